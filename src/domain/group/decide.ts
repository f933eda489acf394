/**
 * decide: the machine group's rules. Given a command and the current state it returns the facts to
 * record (possibly none), or throws a RekeyError that says what was wrong and what would be right.
 * It changes nothing and reads no clock.
 */
import { takesPartInRenewals, parseAgentVersion } from '../agentVersion.js';
import { checkName } from '../names.js';
import { RekeyError } from '../../kernel/errors.js';
import type { GroupEvent, Timed } from '../events.js';
import {
  DEFAULT_GRACE_MINUTES,
  DEFAULT_VALIDITY_MINUTES,
  VALIDITY_OUT_OF_RANGE,
  checkGrace,
  checkValidity,

} from '../periods.js';
import { plusMinutes, toIso, type Instant } from '../time.js';
import type { GroupCommand, PresentedCertificate } from './commands.js';
import * as codes from './errors.js';
import { evolveGroup } from './evolve.js';
import { nextDue, scheduledRenewalEnd } from './schedule.js';
import { memberOf, primaryKey, keyByVersion, type GroupState, type Member } from './state.js';

type Events = Timed<GroupEvent>[];

export function decideGroup(command: GroupCommand, state: GroupState): Events {
  const at = command.at;
  const fact = (event: GroupEvent): Timed<GroupEvent> => ({ ...event, at }) as Timed<GroupEvent>;

  if (command.type === 'CreateGroup') {
    if (state.lifecycle !== 'none') {
      throw new RekeyError(codes.GROUP_EXISTS, `machine group ${command.name} already exists`, { group: command.name });
    }
    checkName(command.name, 'machine group name');
    const validity = checkValidity(command.keyValidityPeriod ?? DEFAULT_VALIDITY_MINUTES);
    const grace = checkGrace(command.keyExpiryGracePeriod ?? DEFAULT_GRACE_MINUTES, validity);
    return [fact({
      type: 'GroupCreated',
      data: {
        groupId: command.groupId,
        name: command.name,
        keyValidityPeriod: validity,
        keyExpiryGracePeriod: grace,
        proactiveReencryption: command.proactiveReencryption ?? false,
        createdAt: toIso(at),
      },
    })];
  }

  if (command.type === 'ProcessDue') return recordDueTimes(state, at);

  // Machines of an expired group still come and go and get updated: the log keeps recording that.
  // R16: of an expired group, only deletion remains.
  const observation = command.type === 'ConnectMachine' || command.type === 'DisconnectMachine' || command.type === 'ReportAgentVersion';
  if (!((observation || command.type === 'DeleteGroup') && state.lifecycle === 'expired')) {
    requireUsableGroup(state, command.type === 'JoinMachine' || command.type === 'RejoinMachine');
  }

  switch (command.type) {
    case 'JoinMachine': {
      parseAgentVersion(command.agentVersion);
      checkName(command.machine, 'machine name');
      if (memberOf(state, command.machine)) {
        throw new RekeyError(
          codes.MACHINE_ALREADY_MEMBER,
          `machine ${command.machine} is already a member of ${state.name}; use rejoin to take the group's current key`,
          { machine: command.machine, group: state.name },
        );
      }
      if (command.memberOfGroup !== null && command.memberOfGroup !== state.name) {
        throw new RekeyError(
          codes.MACHINE_IN_OTHER_GROUP,
          `machine ${command.machine} belongs to machine group ${command.memberOfGroup}; a machine belongs to at most one group (remove it there first)`,
          { machine: command.machine, group: command.memberOfGroup },
        );
      }
      const memberCount = Object.keys(state.members).length;
      if (memberCount >= codes.MAX_MACHINES_PER_GROUP) {
        throw new RekeyError(
          codes.GROUP_FULL,
          `machine group ${state.name} already holds ${memberCount} machines, the maximum is ${codes.MAX_MACHINES_PER_GROUP}`,
          { group: state.name, members: memberCount },
        );
      }
      const joined = (status: 1 | 2, keyThumbprints: string[]): Timed<GroupEvent> => fact({
        type: 'MachineJoined',
        data: { machineId: command.machineId, machine: command.machine, agentVersion: command.agentVersion, keyThumbprints, status },
      });
      const primary = primaryKey(state);
      const credential = command.credential;
      if (!primary) {
        // R7: the first machine issues the group's first certificate and sets the password.
        if (credential.kind !== 'firstKey') {
          throw new RekeyError(codes.GROUP_PASSWORD_STALE, `password is incorrect: machine group ${state.name} has no certificate yet; the first machine that joins issues it`, { group: state.name });
        }
        checkCertificateDates(credential.certificate, at, state.effective.validity);
        return [
          joined(1, []),
          fact({
            type: 'KeyIssued',
            data: {
              version: 1,
              thumbprint: credential.certificate.thumbprint,
              certificatePem: credential.certificate.pem,
              createdAt: toIso(at),
              validityMinutes: state.effective.validity,
              notAfter: toIso(credential.certificate.notAfter),
              issuedBy: command.machine,
              wrappedUnderPrevious: null,
            },
          }),
          fact({
            type: 'GroupPasswordSet',
            data: { machine: command.machine, packageThumbprint: credential.certificate.thumbprint, passwordPackage: credential.passwordPackage },
          }),
        ];
      }
      if (credential.kind === 'firstKey') {
        throw new RekeyError(codes.GROUP_HAS_KEY, `machine group ${state.name} already has a certificate; join it with the group password`, { group: state.name });
      }
      requireCurrentPassword(state, credential.keyThumbprint);
      // R7: a new member starts Default, even during a renewal; its join is a check-in (R21), so an
      // eligible one issues or takes the new key at once.
      return [joined(1, [primary.thumbprint])];
    }

    case 'RejoinMachine': {
      parseAgentVersion(command.agentVersion);
      requireMember(state, command.machine);
      requireCurrentPassword(state, command.keyThumbprint);
      return [fact({ type: 'MachineRejoined', data: { machine: command.machine, agentVersion: command.agentVersion, keyThumbprint: command.keyThumbprint } })];
    }

    case 'RemoveMachine':
      requireMember(state, command.machine);
      return [fact({ type: 'MachineLeft', data: { machine: command.machine, reason: 'removed' } })];

    case 'ConnectMachine': {
      const member = requireMember(state, command.machine);
      const startedEarlier = command.sessionStartedAt !== undefined && command.sessionStartedAt < at;
      if (member.connected && member.checkInIntervalMinutes === command.checkInIntervalMinutes && !startedEarlier) return [];
      return [fact({
        type: 'MachineConnected',
        data: {
          machine: command.machine,
          checkInIntervalMinutes: command.checkInIntervalMinutes,
          ...(startedEarlier ? { sessionStartedAt: toIso(command.sessionStartedAt!) } : {}),
        },
      })];
    }

    case 'DisconnectMachine': {
      const member = requireMember(state, command.machine);
      return member.connected ? [fact({ type: 'MachineDisconnected', data: { machine: command.machine } })] : [];
    }

    case 'ReportAgentVersion': {
      parseAgentVersion(command.agentVersion);
      const member = requireMember(state, command.machine);
      if (member.agentVersion === command.agentVersion) return [];
      return [fact({ type: 'AgentVersionReported', data: { machine: command.machine, agentVersion: command.agentVersion } })];
    }

    case 'IssueRenewalKey': {
      const member = requireRenewingMember(state, command.machine);
      const renewal = state.renewal!;
      if (renewal.newVersion !== null) {
        throw new RekeyError(
          codes.KEY_ALREADY_ISSUED,
          `machine group ${state.name} already has its new key (version ${renewal.newVersion}) for this renewal; take it instead of issuing another`,
          { group: state.name, version: renewal.newVersion },
        );
      }
      const oldKey = keyByVersion(state, renewal.oldVersion)!;
      if (command.wrappedUnderPrevious.thumbprint !== oldKey.thumbprint) {
        throw new RekeyError(
          codes.KEY_NOT_HELD,
          `the new key must be wrapped under the current key ${oldKey.thumbprint}, not ${command.wrappedUnderPrevious.thumbprint}`,
          { expected: oldKey.thumbprint, actual: command.wrappedUnderPrevious.thumbprint },
        );
      }
      checkCertificateDates(command.certificate, at, state.effective.validity);
      return [fact({
        type: 'KeyIssued',
        data: {
          version: oldKey.version + 1,
          thumbprint: command.certificate.thumbprint,
          certificatePem: command.certificate.pem,
          createdAt: toIso(at),
          validityMinutes: state.effective.validity,
          notAfter: toIso(command.certificate.notAfter),
          issuedBy: member.name,
          wrappedUnderPrevious: command.wrappedUnderPrevious,
        },
      })];
    }

    case 'AcceptNewKey': {
      const member = requireRenewingMember(state, command.machine);
      const newVersion = state.renewal!.newVersion;
      if (newVersion === null) {
        throw new RekeyError(codes.NEW_KEY_NOT_ISSUED, `machine group ${state.name} has no new key yet in this renewal; the first eligible machine to check in issues it`, { group: state.name });
      }
      if (member.keyVersions.includes(newVersion)) return [];
      const newKey = keyByVersion(state, newVersion)!;
      return [fact({ type: 'MachineKeyDelivered', data: { machine: member.name, keyVersion: newVersion, keyThumbprint: newKey.thumbprint } })];
    }

    case 'RegeneratePassword': {
      const member = requireMember(state, command.machine);
      const primary = primaryKey(state)!;
      if (member.status === 3 || !member.keyVersions.includes(primary.version)) {
        throw new RekeyError(
          codes.KEY_NOT_HELD,
          `machine ${member.name} does not hold the primary key (version ${primary.version}) of ${state.name}; regenerate the password on a machine that does`,
          { machine: member.name, version: primary.version },
        );
      }
      if (command.packageThumbprint !== primary.thumbprint) {
        throw new RekeyError(codes.KEY_NOT_HELD, `the password package holds key ${command.packageThumbprint}, not the primary key ${primary.thumbprint}`, { expected: primary.thumbprint });
      }
      return [fact({ type: 'GroupPasswordRegenerated', data: { machine: member.name, packageThumbprint: command.packageThumbprint, passwordPackage: command.passwordPackage } })];
    }

    case 'SetKeyValidityPeriod': {
      const validity = checkValidity(command.minutes);
      // R2: validated against the latest recorded grace, so lowering the grace first then the validity works.
      if (state.recorded.grace > Math.floor(validity / 2)) {
        throw new RekeyError(
          VALIDITY_OUT_OF_RANGE,
          `keyValidityPeriod ${validity} is below the minimum of ${state.recorded.grace * 2} minutes (twice keyExpiryGracePeriod ${state.recorded.grace}); lower the grace period first`,
          { value: validity, minimum: state.recorded.grace * 2 },
        );
      }
      return [fact({ type: 'KeyValidityPeriodChanged', data: { minutes: validity, pickupAt: toIso(plusMinutes(at, command.pickupDelayMinutes)) } })];
    }

    case 'SetKeyExpiryGracePeriod': {
      const grace = checkGrace(command.minutes, state.recorded.validity);
      return [fact({ type: 'KeyExpiryGracePeriodChanged', data: { minutes: grace, pickupAt: toIso(plusMinutes(at, command.pickupDelayMinutes)) } })];
    }

    case 'SetProactiveReencryption':
      if (state.proactiveReencryption === command.enabled) return [];
      return [fact({ type: 'ProactiveReencryptionChanged', data: { enabled: command.enabled } })];

    case 'DeleteGroup':
      return [
        ...Object.keys(state.members).sort().map((machine) => fact({ type: 'MachineLeft', data: { machine, reason: 'groupDeleted' } })),
        ...state.keys.filter((key) => !key.retired).map((key) => fact({ type: 'KeyExpired', data: { keyVersion: key.version, keyThumbprint: key.thumbprint } })),
        fact({ type: 'GroupDeleted', data: { name: state.name } }),
      ];

    default: {
      const unknown: never = command;
      return unknown;
    }
  }
}

/** Records every due time up to `until`, each at its own instant and in the same-instant order. */
function recordDueTimes(initial: GroupState, until: Instant): Events {
  const events: Events = [];
  let state = initial;
  for (let due = nextDue(state); due !== null && due.at <= until; due = nextDue(state)) {
    const batch = dueEvents(state, due.kind, due.at);
    for (const event of batch) state = evolveGroup(state, event);
    events.push(...batch);
  }
  return events;
}

function dueEvents(state: GroupState, kind: 'pickup' | 'retirement' | 'renewalStart', at: Instant): Events {
  const fact = (event: GroupEvent): Timed<GroupEvent> => ({ ...event, at }) as Timed<GroupEvent>;
  switch (kind) {
    case 'pickup': {
      // R4: every change recorded up to this pickup is picked up together.
      let settings = state.effective;
      for (const change of state.pendingChanges) {
        if (change.pickupAt > at) continue;
        settings = { validity: change.validity ?? settings.validity, grace: change.grace ?? settings.grace };
      }
      return [fact({ type: 'SettingsPickedUp', data: { keyValidityPeriod: settings.validity, keyExpiryGracePeriod: settings.grace } })];
    }
    case 'renewalStart': {
      const key = primaryKey(state)!;
      const endsAt = scheduledRenewalEnd(state, at)!;
      return [fact({ type: 'RenewalStarted', data: { keyVersion: key.version, keyThumbprint: key.thumbprint, startsAt: toIso(at), endsAt: toIso(endsAt) } })];
    }
    case 'retirement': {
      const renewal = state.renewal!;
      const oldKey = keyByVersion(state, renewal.oldVersion)!;
      const events: Events = [fact({ type: 'KeyExpired', data: { keyVersion: oldKey.version, keyThumbprint: oldKey.thumbprint } })];
      const newVersion = renewal.newVersion;
      const members = Object.values(state.members).sort((a, b) => a.name.localeCompare(b.name));
      const holders = members.filter((member) => newVersion !== null && member.keyVersions.includes(newVersion));
      // R15: members that did not take the new key can run nothing until they rejoin.
      for (const member of members) {
        if (!holders.includes(member) && member.status !== 3) {
          events.push(fact({ type: 'MachineKeyExpired', data: { machine: member.name, keyVersion: oldKey.version } }));
        }
      }
      // R16: nobody holds a live key of the group any more.
      if (holders.length === 0) {
        const reason = newVersion === null
          ? (members.length === 0 ? 'the group was empty during its renewal' : 'no eligible machine checked in during the renewal window, so no new key was issued')
          : 'no member held the new key when the old one retired';
        events.push(fact({ type: 'GroupKeyExpired', data: { keyVersion: newVersion ?? oldKey.version, reason } }));
      }
      return events;
    }
  }
}

function requireUsableGroup(state: GroupState, joining: boolean): void {
  if (state.lifecycle === 'none') {
    throw new RekeyError(codes.GROUP_NOT_FOUND, 'machine group not found; create it first', {});
  }
  if (state.lifecycle === 'deleted') {
    throw new RekeyError(codes.GROUP_DELETED, `machine group ${state.name} was deleted; create a new group`, { group: state.name });
  }
  if (state.lifecycle === 'expired') {
    const prefix = joining ? 'password is incorrect: ' : '';
    throw new RekeyError(
      codes.GROUP_KEY_EXPIRED,
      `${prefix}the key of machine group ${state.name} expired because no machine renewed it; the group cannot be used: delete it and create a new one`,
      { group: state.name },
    );
  }
}

/** R17: only a package made with the primary key admits machines. */
function requireCurrentPassword(state: GroupState, keyThumbprint: string): void {
  const primary = primaryKey(state)!;
  if (keyThumbprint !== primary.thumbprint) {
    throw new RekeyError(
      codes.GROUP_PASSWORD_STALE,
      `password is incorrect: it opens key ${keyThumbprint}, but machine group ${state.name} now uses key version ${primary.version} (${primary.thumbprint}); regenerate the password on a machine that holds the new key`,
      { group: state.name, presented: keyThumbprint, primary: primary.thumbprint },
    );
  }
}

function requireMember(state: GroupState, machine: string): Member {
  const member = memberOf(state, machine);
  if (!member) {
    throw new RekeyError(codes.MACHINE_NOT_MEMBER, `machine ${machine} is not a member of machine group ${state.name}`, { machine, group: state.name });
  }
  return member;
}

/** R8, R11, R12: who may issue or take a renewal key. */
function requireRenewingMember(state: GroupState, machine: string): Member {
  const member = requireMember(state, machine);
  const renewal = state.renewal;
  if (!renewal) {
    throw new RekeyError(codes.NO_RENEWAL_IN_PROGRESS, `machine group ${state.name} is not renewing its key`, { group: state.name });
  }
  if (!takesPartInRenewals(member.agentVersion)) {
    throw new RekeyError(
      codes.AGENT_OUTDATED,
      `machine ${machine} runs Power Automate for desktop ${member.agentVersion}; renewals need version 2.23 or above`,
      { machine, agentVersion: member.agentVersion, minimum: '2.23' },
    );
  }
  if (member.status === 3) {
    throw new RekeyError(codes.MACHINE_KEY_EXPIRED, `machine ${machine} missed a renewal (KeyExpired); rejoin it with the current group password`, { machine });
  }
  if (!member.keyVersions.includes(renewal.oldVersion)) {
    throw new RekeyError(codes.KEY_NOT_HELD, `machine ${machine} does not hold key version ${renewal.oldVersion}, which the new key is wrapped under`, { machine });
  }
  return member;
}

function checkCertificateDates(certificate: PresentedCertificate, at: Instant, validity: number): void {
  const expectedNotAfter = plusMinutes(at, validity);
  // X.509 times have whole seconds.
  const sameSecond = (a: Instant, b: Instant) => Math.floor(a / 1000) === Math.floor(b / 1000);
  if (!sameSecond(certificate.notBefore, at) || !sameSecond(certificate.notAfter, expectedNotAfter)) {
    throw new RekeyError(
      codes.CERTIFICATE_DATES_MISMATCH,
      `certificate ${certificate.thumbprint} is valid from ${toIso(certificate.notBefore)} to ${toIso(certificate.notAfter)}; expected ${toIso(at)} to ${toIso(expectedNotAfter)} (validity ${validity} minutes)`,
      { thumbprint: certificate.thumbprint },
    );
  }
}
