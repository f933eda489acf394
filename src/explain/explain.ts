/**
 * `rekey explain TABLE NAME [--as-of T]`: why one group, machine or connection is in the state it is
 * at an instant. Answers the questions renewal systems are asked most ("why did it (not) renew?"):
 * - `chain`: the events that made its row, in log order, each with its position and the rule that
 *   produced it (eventRules.ts);
 * - `settings`: the group's settings as recorded and as in force, and when they were picked up (R4);
 * - `deadline`: the next deadline with the seed's formula filled in with the row's own numbers
 *   (deadline.ts);
 * - `levers`: what would change it, each with its rule.
 * Everything is read from the log folded up to the instant (the engine's own evolve) and from the
 * tables as of that instant.
 */
import { requireTable, rowHistory, tablesAt, type Row, type TableName } from '../../projections/index.js';
import { takesPartInRenewals } from '../domain/agentVersion.js';
import { RekeyError } from '../kernel/errors.js';
import type { ConnectionState } from '../domain/connection/state.js';
import { MIN_GRACE_MINUTES, renewalStart } from '../domain/periods.js';
import { keyByVersion, memberOf, passwordRegenerationRequired, primaryKey, type GroupState } from '../domain/group/state.js';
import { plusMinutes, toIso, type Instant } from '../domain/time.js';
import type { Fleet } from '../engine/fleet.js';
import { groupStream } from '../domain/streams.js';
import { fleetAt } from '../readiness/report.js';
import type { EventStore } from '../store/port.js';
import { groupDeadline, type Deadline } from './deadline.js';
import { ruleLink } from './eventRules.js';

export interface ChainLink {
  readonly position: number;
  readonly occurredAt: string;
  readonly event: string;
  readonly rules: readonly string[];
  readonly why: string;
  readonly changedColumns: readonly string[];
}

export interface Lever {
  readonly rule: string;
  readonly what: string;
}

export interface SettingsInForce {
  readonly group: string;
  readonly recorded: { readonly keyValidityPeriod: number; readonly keyExpiryGracePeriod: number };
  readonly inForce: { readonly keyValidityPeriod: number; readonly keyExpiryGracePeriod: number };
  /** When the settings in force were picked up (R4). */
  readonly pickedUpAt: string;
  readonly pending: { readonly pickupAt: string; readonly keyValidityPeriod: number | null; readonly keyExpiryGracePeriod: number | null }[];
  readonly proactiveReencryption: boolean;
}

export interface Explanation {
  readonly table: TableName;
  readonly name: string;
  readonly id: string;
  /** The instant the row is shown at. */
  readonly asOf: string | null;
  readonly position: number;
  /** One sentence: the state and the reason for it. */
  readonly summary: string;
  readonly row: Row | null;
  readonly chain: ChainLink[];
  readonly settings: SettingsInForce | null;
  readonly deadline: Deadline | null;
  readonly levers: Lever[];
}

export async function explain(store: EventStore, table: string, name: string, asOf?: Instant): Promise<Explanation> {
  const entitySet = requireTable(table);
  const history = await rowHistory(store, entitySet, name);
  const changes = history.changes.filter((change) => asOf === undefined || Date.parse(change.occurredAt) <= asOf);
  if (changes.length === 0) {
    throw new RekeyError('ROW_NOT_FOUND', `${entitySet} ${name} did not exist yet as of ${toIso(asOf!)}; its first change is at ${history.changes[0]?.occurredAt}`, { table: entitySet, name }, 'not_found');
  }
  const [fleet, tables] = await Promise.all([fleetAt(store, asOf), tablesAt(store, asOf === undefined ? {} : { asOf })]);
  const idColumn = entitySet === 'flowmachinegroups' ? 'flowmachinegroupid' : entitySet === 'flowmachines' ? 'flowmachineid' : 'connectionid';
  const row = tables.tables[entitySet].find((r) => r[idColumn] === history.id) ?? null;
  const chain: ChainLink[] = [];
  for (const change of changes) {
    const [event] = await store.readAll(change.position, 1);
    const link = ruleLink(change.event, event?.data ?? {});
    chain.push({ position: change.position, occurredAt: change.occurredAt, event: change.event, rules: link.rules, why: link.why, changedColumns: change.changedColumns });
  }
  const base = { table: entitySet, name: history.name, id: history.id, asOf: tables.instant, position: tables.position, row, chain };
  const at = tables.instant === null ? 0 : Date.parse(tables.instant);
  if (entitySet === 'flowmachinegroups') {
    const state = fleet.groups.get(groupStream(history.id))?.state;
    return { ...base, ...(state ? explainGroup(state, at) : deletedRow('machine group')) };
  }
  if (entitySet === 'flowmachines') return { ...base, ...explainMachine(fleet, history.name, row) };
  const connection = fleet.connections.get(`connection-${history.id}`)?.state;
  return { ...base, ...(connection ? explainConnection(fleet, connection) : deletedRow('connection')) };
}

type Parts = Pick<Explanation, 'summary' | 'settings' | 'deadline' | 'levers'>;

function deletedRow(what: string): Parts {
  return { summary: `the ${what} does not exist at this instant`, settings: null, deadline: null, levers: [] };
}

function settingsOf(state: GroupState): SettingsInForce {
  return {
    group: state.name,
    recorded: { keyValidityPeriod: state.recorded.validity, keyExpiryGracePeriod: state.recorded.grace },
    inForce: { keyValidityPeriod: state.effective.validity, keyExpiryGracePeriod: state.effective.grace },
    pickedUpAt: toIso(state.effectiveSince),
    pending: state.pendingChanges.map((change) => ({ pickupAt: toIso(change.pickupAt), keyValidityPeriod: change.validity ?? null, keyExpiryGracePeriod: change.grace ?? null })),
    proactiveReencryption: state.proactiveReencryption,
  };
}

const list = (names: readonly string[]) => names.join(', ');

function explainGroup(state: GroupState, at: Instant): Parts {
  const settings = settingsOf(state);
  const deadline = groupDeadline(state);
  const members = Object.values(state.members).sort((a, b) => a.name.localeCompare(b.name));
  const eligible = members.filter((m) => m.status !== 3 && takesPartInRenewals(m.agentVersion));
  const levers: Lever[] = [];
  if (state.lifecycle === 'expired') {
    return { summary: `${state.name}'s key expired because nobody renewed it (R16): nothing can join it; only deletion remains`, settings, deadline: null, levers: [{ rule: 'R16, R19', what: `delete ${state.name} (rekey group delete ${state.name}) and create a new group; fix the connections that targeted it` }] };
  }
  if (state.lifecycle === 'deleted') return deletedRow('machine group');
  const key = primaryKey(state);
  if (!key) {
    return {
      summary: `${state.name} has no key yet: the first machine that joins issues it (R7)`,
      settings,
      deadline: null,
      levers: [{ rule: 'R7', what: `join a machine to ${state.name} (rekey agent --group ${state.name}); it issues the first certificate and sets the password` }],
    };
  }
  const renewal = state.renewal;
  let summary: string;
  if (renewal) {
    const holders = renewal.newVersion === null ? [] : members.filter((m) => m.keyVersions.includes(renewal.newVersion!)).map((m) => m.name);
    const pending = members.filter((m) => m.status === 2).map((m) => m.name);
    summary = renewal.newVersion === null
      ? `${state.name} is renewing key version ${renewal.oldVersion} (since ${toIso(renewal.startsAt)}, R10), but no machine has issued the new key yet`
      : `${state.name} is renewing: key version ${renewal.newVersion} is the primary (R22); ${holders.length} of ${members.length} members hold it${pending.length > 0 ? `; still PendingNewKey: ${list(pending)}` : ''}`;
    if (renewal.newVersion === null) {
      levers.push(eligible.length > 0
        ? { rule: 'R11', what: `bring one of ${list(eligible.map((m) => m.name))} online before ${toIso(renewal.endsAt)}: the first to check in issues the new key` }
        : { rule: 'R8, R16', what: `no member can issue the new key (${members.length === 0 ? 'the group is empty' : 'all are below 2.23 or KeyExpired'}): update an agent to 2.23 or above and bring it online before ${toIso(renewal.endsAt)}, or the group key expires then` });
    } else if (pending.length > 0) {
      levers.push({ rule: 'R12, R15', what: `${list(pending)} take key version ${renewal.newVersion} at their next check-in before ${toIso(renewal.endsAt)}; a machine still pending then gets KeyExpired` });
    }
  } else {
    summary = `${state.name} holds key version ${key.version} (created ${toIso(key.createdAt)}, valid to ${toIso(key.notAfter)}); no renewal under way`;
  }
  if (passwordRegenerationRequired(state)) {
    const able = members.filter((m) => m.status !== 3 && m.keyVersions.includes(key.version)).map((m) => m.name);
    levers.push({ rule: 'R17', what: `regenerate the group password on a machine that holds key version ${key.version}${able.length > 0 ? ` (${list(able)})` : ''} before adding or rejoining a machine` });
  }
  const missed = members.filter((m) => m.status === 3).map((m) => m.name);
  if (missed.length > 0) levers.push({ rule: 'R17', what: `${list(missed)} missed a renewal: rejoin them with the regenerated password` });
  if (!renewal) {
    // The settings levers, each worked out with the schedule's own function (R3, R5).
    const pickup = plusMinutes(at, 1_440);
    const v = state.effective.validity;
    const latest = renewalStart(key, { validity: v, grace: MIN_GRACE_MINUTES }, state.effectiveSince);
    const earliest = renewalStart(key, { validity: v, grace: Math.floor(v / 2) }, state.effectiveSince);
    levers.push({ rule: 'R2, R3', what: `keyExpiryGracePeriod from ${MIN_GRACE_MINUTES} to ${Math.floor(v / 2)} minutes would move the renewal start between ${toIso(Math.max(latest, pickup))} and ${toIso(Math.max(earliest, pickup))} (picked up a day after the change, R4)` });
    const immediate = Math.floor((pickup - key.createdAt) / 60_000) + state.effective.grace;
    if (immediate < key.validity) levers.push({ rule: 'R5', what: `keyValidityPeriod at or below ${immediate} minutes would start a renewal when picked up (${toIso(pickup)} if set now), lasting at most the grace` });
    levers.push({ rule: 'R5', what: 'a longer keyValidityPeriod changes nothing for the current key; the next key is issued with it' });
    if (eligible.length === 0) levers.push({ rule: 'R8, R16', what: `no member can take part in the next renewal (${members.length === 0 ? 'empty group' : 'all below 2.23 or KeyExpired'}): its key will expire unless one can by then` });
  }
  levers.push({ rule: 'R19', what: `deleting ${state.name} invalidates its keys at once; every connection that targets it would need fixing` });
  return { summary, settings, deadline, levers };
}

function explainMachine(fleet: Fleet, name: string, row: Row | null): Parts {
  const groupName = fleet.groupOfMachine(name);
  const group = groupName === null ? undefined : fleet.group(groupName);
  const member = group ? memberOf(group, name) : undefined;
  if (!group || !member) {
    return { summary: `${name} is not a member of any machine group at this instant: it does nothing in a group's life (R9)`, settings: null, deadline: null, levers: [{ rule: 'R7', what: `join it to a group with the group's password (rekey agent --name ${name} --group GROUP)` }] };
  }
  const settings = settingsOf(group);
  const deadline = groupDeadline(group);
  const levers: Lever[] = [];
  const outdated = !takesPartInRenewals(member.agentVersion);
  if (outdated) levers.push({ rule: 'R8', what: `update Power Automate for desktop on ${name} from ${member.agentVersion} to 2.23 or above: below it, it neither issues nor takes a new key` });
  const renewal = group.renewal;
  const heartbeat = typeof row?.lastheartbeatdate === 'string' ? row.lastheartbeatdate : null;
  let summary: string;
  if (member.status === 3) {
    const able = Object.values(group.members).filter((m) => m.status !== 3 && m.keyVersions.includes(group.primaryVersion ?? -1)).map((m) => m.name).sort();
    summary = `${name} is KeyExpired: it had not taken the new key when the old one retired (R15); it can run nothing until it rejoins`;
    levers.push({ rule: 'R17', what: `regenerate the password of ${group.name} on ${able.length > 0 ? list(able) : 'a machine that holds the primary key'}, then rejoin ${name} with it (rekey agent --name ${name} --rejoin)` });
  } else if (member.status === 2 && renewal) {
    summary = `${name} is PendingNewKey: ${group.name} is renewing since ${toIso(renewal.startsAt)} (R10) and ${name} has not checked in since the new key ${renewal.newVersion === null ? 'could be issued' : 'was issued'}${heartbeat ? ` (last heartbeat ${heartbeat})` : ''}`;
    if (!outdated) levers.push({ rule: renewal.newVersion === null ? 'R11' : 'R12', what: `bring ${name} online before ${toIso(renewal.endsAt)}: at its first check-in it ${renewal.newVersion === null ? 'issues' : 'takes'} the new key; otherwise it gets KeyExpired then (R15)` });
  } else {
    const key = keyByVersion(group, group.primaryVersion);
    summary = `${name} is up to date (Default) in ${group.name}${key && member.keyVersions.includes(key.version) ? `, holding key version ${key.version}` : ''}`;
    if (deadline?.window && !outdated) levers.push({ rule: 'R11, R12', what: `be online at least once between ${deadline.window.start} and ${deadline.window.end} to take the next key` });
  }
  if (!member.connected && member.status !== 3) levers.push({ rule: 'R21', what: `${name} is offline; online, it checks in every ${member.checkInIntervalMinutes} minutes from the start of its session` });
  levers.push({ rule: 'R9, R20', what: `removing ${name} from ${group.name} (rekey machine remove ${name}) ends its part in renewals` });
  return { summary, settings, deadline, levers };
}

function explainConnection(fleet: Fleet, connection: ConnectionState): Parts {
  const target = connection.target;
  const groupName = target.type === 'group' ? target.name : fleet.groupOfMachine(target.name);
  const group = groupName === null ? undefined : fleet.group(groupName);
  const settings = group ? settingsOf(group) : null;
  const deadline = group ? groupDeadline(group) : null;
  const live = fleet.liveCertificatesOf(target).map((c) => c.thumbprint);
  const encrypted = connection.ciphertexts.map((c) => c.thumbprint);
  const levers: Lever[] = [];
  let summary: string;
  if (connection.needsFix) {
    summary = `${connection.name} needs fixing (Fix connection): its credentials are encrypted to no live key of ${target.type} ${target.name}`;
    levers.push({ rule: 'R18', what: `re-enter its credentials: rekey connection fix ${connection.name} (they are encrypted to the live key(s) at once)` });
  } else {
    const missing = live.filter((thumbprint) => !encrypted.includes(thumbprint));
    const renewal = group?.renewal;
    summary = `${connection.name} is Connected: encrypted to ${encrypted.length} of the ${live.length} live key(s) of ${target.type} ${target.name}`;
    if (renewal && missing.length > 0) {
      levers.push({ rule: 'R14, R15', what: `run it before ${toIso(renewal.endsAt)} on a machine that holds both keys (rekey connection run ${connection.name}); it then adds the ciphertext for the new key, otherwise it needs fixing at the end of the window${group?.proactiveReencryption ? ' (proactive re-encryption is on: a member holding both keys re-encrypts it at its check-in)' : ''}` });
    } else if (deadline?.window) {
      levers.push({ rule: 'R14', what: `run it once between the new key's issue and ${deadline.window.end} (the next window opens ${deadline.window.start}), or turn on proactive re-encryption for ${groupName}` });
    }
  }
  if (target.type === 'machine') levers.push({ rule: 'R20', what: `if ${target.name} joins a machine group, this connection breaks (it was encrypted to ${target.name} alone)` });
  if (group) levers.push({ rule: 'R19', what: `deleting ${group.name} would make it need fixing` });
  return { summary, settings, deadline, levers };
}
