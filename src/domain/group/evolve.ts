/**
 * evolve: applies one recorded fact to the group state. No rules, no validation: the decider
 * already decided; this only remembers.
 */
import type { GroupEvent, Timed } from '../events.js';
import { parseInstant } from '../time.js';
import { copyOnWrite, type MemberWrites } from './memberWrites.js';
import { initialGroupState, memberOf, type GroupKey, type GroupState, type Member } from './state.js';

/**
 * How the evolve call under way writes single members (see memberWrites.ts). evolve is synchronous
 * and never re-entered, so one module variable serves every helper without threading it through.
 */
let writes: MemberWrites = copyOnWrite;

function withMember(state: GroupState, name: string, change: (member: Member) => Member): GroupState {
  const member = memberOf(state, name);
  return member ? withMembers(state, writes.put(state.members, name, change(member))) : state;
}

/** The state with `members`; written in place, the record is the same and so is the state. */
function withMembers(state: GroupState, members: GroupState['members']): GroupState {
  return members === state.members ? state : { ...state, members };
}

function mapMembers(state: GroupState, change: (member: Member) => Member): GroupState {
  const members: Record<string, Member> = {};
  for (const [name, member] of Object.entries(state.members)) members[name] = change(member);
  return { ...state, members };
}

function withoutMember(state: GroupState, name: string): GroupState {
  return withMembers(state, writes.remove(state.members, name));
}

/**
 * Applies one event. `memberWrites` chooses the data structure only (copy-on-write by default, or
 * in place for a fold that owns its states); the resulting state is the same either way.
 */
export function evolveGroup(state: GroupState, event: Timed<GroupEvent>, memberWrites: MemberWrites = copyOnWrite): GroupState {
  writes = memberWrites;
  try {
    return evolveOne(state, event);
  } finally {
    writes = copyOnWrite;
  }
}

function evolveOne(state: GroupState, event: Timed<GroupEvent>): GroupState {
  const at = event.at;
  switch (event.type) {
    case 'GroupCreated': {
      const settings = { validity: event.data.keyValidityPeriod, grace: event.data.keyExpiryGracePeriod };
      return {
        ...state,
        lifecycle: 'active',
        groupId: event.data.groupId,
        name: event.data.name,
        createdAt: at,
        recorded: settings,
        effective: settings,
        effectiveSince: at,
        proactiveReencryption: event.data.proactiveReencryption,
      };
    }
    case 'KeyIssued': {
      const data = event.data;
      const key: GroupKey = {
        version: data.version,
        thumbprint: data.thumbprint,
        certificatePem: data.certificatePem,
        createdAt: parseInstant(data.createdAt),
        validity: data.validityMinutes,
        notAfter: parseInstant(data.notAfter),
        issuedBy: data.issuedBy,
        wrappedUnderPrevious: data.wrappedUnderPrevious,
        retired: false,
      };
      const renewal = state.renewal ? { ...state.renewal, newVersion: data.version } : null;
      const next: GroupState = {
        ...state,
        keys: [...state.keys, key],
        primaryVersion: data.version,
        renewal,
        rotationStartedBy: renewal ? data.issuedBy : state.rotationStartedBy,
      };
      // The issuer holds the new key at once (R11).
      return withMember(next, data.issuedBy, (member) => ({
        ...member,
        status: 1,
        keyVersions: [...member.keyVersions, data.version],
        keyReceivedAt: at,
      }));
    }
    case 'GroupPasswordSet':
    case 'GroupPasswordRegenerated':
      return {
        ...state,
        passwordPackage: event.data.passwordPackage,
        passwordPackageThumbprint: event.data.packageThumbprint,
        passwordChangedAt: event.type === 'GroupPasswordRegenerated' ? at : state.passwordChangedAt,
        securityUpdatedSinceRegeneration:
          event.type === 'GroupPasswordRegenerated' ? false : state.securityUpdatedSinceRegeneration,
      };
    case 'MachineJoined': {
      const versions = event.data.keyThumbprints
        .map((thumbprint) => state.keys.find((key) => key.thumbprint === thumbprint)?.version)
        .filter((version): version is number => version !== undefined);
      const member: Member = {
        machineId: event.data.machineId,
        name: event.data.machine,
        agentVersion: event.data.agentVersion,
        status: event.data.status,
        keyVersions: versions,
        keyReceivedAt: versions.length > 0 ? at : null,
        connected: true,
        checkInIntervalMinutes: memberOf(state, event.data.machine)?.checkInIntervalMinutes ?? 1440,
      };
      return withMembers(state, writes.put(state.members, member.name, member));
    }
    case 'MachineRejoined': {
      const version = state.keys.find((key) => key.thumbprint === event.data.keyThumbprint)?.version;
      return withMember(state, event.data.machine, (member) => ({
        ...member,
        agentVersion: event.data.agentVersion,
        status: event.data.status,
        keyVersions: version === undefined ? [] : [version],
        keyReceivedAt: at,
      }));
    }
    case 'MachineLeft':
      return withoutMember(state, event.data.machine);
    case 'MachineConnected':
      return withMember(state, event.data.machine, (member) => ({
        ...member,
        connected: true,
        checkInIntervalMinutes: event.data.checkInIntervalMinutes,
      }));
    case 'MachineDisconnected':
      return withMember(state, event.data.machine, (member) => ({ ...member, connected: false }));
    case 'MachineCheckedIn':
      return state;
    case 'AgentVersionReported':
      return withMember(state, event.data.machine, (member) => ({ ...member, agentVersion: event.data.agentVersion }));
    case 'KeyValidityPeriodChanged':
      return {
        ...state,
        recorded: { ...state.recorded, validity: event.data.minutes },
        pendingChanges: [...state.pendingChanges, { pickupAt: parseInstant(event.data.pickupAt), validity: event.data.minutes }],
      };
    case 'KeyExpiryGracePeriodChanged':
      return {
        ...state,
        recorded: { ...state.recorded, grace: event.data.minutes },
        pendingChanges: [...state.pendingChanges, { pickupAt: parseInstant(event.data.pickupAt), grace: event.data.minutes }],
      };
    case 'ProactiveReencryptionChanged':
      return { ...state, proactiveReencryption: event.data.enabled };
    case 'SettingsPickedUp':
      return {
        ...state,
        effective: { validity: event.data.keyValidityPeriod, grace: event.data.keyExpiryGracePeriod },
        effectiveSince: at,
        pendingChanges: state.pendingChanges.filter((change) => change.pickupAt > at),
      };
    case 'RenewalStarted': {
      const next: GroupState = {
        ...state,
        renewal: {
          oldVersion: event.data.keyVersion,
          startsAt: parseInstant(event.data.startsAt),
          endsAt: parseInstant(event.data.endsAt),
          newVersion: null,
        },
        securityUpdatedSinceRegeneration: true,
      };
      // R10: every member still on the current key now waits for the new one; KeyExpired stays.
      return mapMembers(next, (member) => (member.status === 3 ? member : { ...member, status: 2 }));
    }
    case 'MachineKeyDelivered':
      return withMember(state, event.data.machine, (member) => ({
        ...member,
        status: 1,
        keyVersions: [...member.keyVersions, event.data.keyVersion],
        keyReceivedAt: at,
      }));
    case 'KeyExpired': {
      const retiredVersion = event.data.keyVersion;
      const keys = state.keys.map((key) => (key.version === retiredVersion ? { ...key, retired: true } : key));
      const endsWindow = state.renewal?.oldVersion === retiredVersion;
      const renewal = endsWindow ? null : state.renewal;
      const lastWindowEndedAt = endsWindow ? at : state.lastWindowEndedAt;
      return mapMembers({ ...state, keys, renewal, lastWindowEndedAt }, (member) => ({
        ...member,
        keyVersions: member.keyVersions.filter((version) => version !== retiredVersion),
      }));
    }
    case 'MachineKeyExpired':
      return withMember(state, event.data.machine, (member) => ({ ...member, status: 3 }));
    case 'GroupKeyExpired':
      return { ...state, lifecycle: 'expired', renewal: null };
    case 'GroupDeleted':
      return { ...state, lifecycle: 'deleted', renewal: null, members: {} };
    case 'GroupImported': {
      // The state as an export showed it at `at`; what happened before is unknown. Settings count as
      // picked up at the observation, so no renewal is scheduled before it (R3).
      const data = event.data;
      const settings = { validity: data.keyValidityPeriod, grace: data.keyExpiryGracePeriod };
      const keys: GroupKey[] = data.keys.map((key) => ({
        version: key.version,
        thumbprint: key.thumbprint,
        certificatePem: key.certificatePem ?? '',
        createdAt: parseInstant(key.createdAt),
        validity: key.validityMinutes,
        notAfter: parseInstant(key.notAfter),
        issuedBy: '',
        wrappedUnderPrevious: key.wrappedUnderPrevious ?? null,
        retired: false,
      }));
      const primary = keys.at(-1);
      const renewal = data.renewal && primary
        ? { oldVersion: keys[0]!.version, startsAt: parseInstant(data.renewal.startsAt), endsAt: parseInstant(data.renewal.endsAt), newVersion: keys.length > 1 ? primary.version : null }
        : null;
      return {
        ...initialGroupState,
        lifecycle: data.expired ? 'expired' : 'active',
        groupId: data.groupId,
        name: data.name,
        createdAt: data.createdOn === null ? at : parseInstant(data.createdOn),
        recorded: settings,
        effective: settings,
        effectiveSince: at,
        proactiveReencryption: data.proactiveReencryption,
        keys,
        primaryVersion: primary?.version ?? null,
        renewal: data.expired ? null : renewal,
        passwordChangedAt: data.passwordChangedAt === null ? null : parseInstant(data.passwordChangedAt),
        passwordPackageThumbprint: data.passwordPackage?.packageThumbprint ?? null,
        passwordPackage: data.passwordPackage?.passwordPackage ?? null,
        securityUpdatedSinceRegeneration: data.passwordRegenerationRequired,
        rotationStartedBy: data.rotationStartedBy,
      };
    }
    case 'MachineImported': {
      const data = event.data;
      const member: Member = {
        machineId: data.machineId,
        name: data.machine,
        agentVersion: data.agentVersion,
        status: data.status,
        keyVersions: [...data.keyVersions],
        keyReceivedAt: data.keyReceivedAt === null ? null : parseInstant(data.keyReceivedAt),
        connected: false,
        checkInIntervalMinutes: 1440,
      };
      return withMembers(state, writes.put(state.members, member.name, member));
    }
    default: {
      const unknown: never = event;
      return unknown;
    }
  }
}
