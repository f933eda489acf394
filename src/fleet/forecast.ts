/**
 * `rekey forecast`: what each group's next renewal window will bring, found by running the real
 * engine and real machine agents forward from the head of the log (imported or live state) in a
 * private in-memory copy with stand-in keys (standIn.ts), machines online as their habits say
 * (habits.ts), and no connection runs (a connection that nobody runs during the window needs fixing
 * after it, unless proactive re-encryption re-encrypts it).
 *
 * Per group: the window [renewalStart, renewalEnd), the machines that will miss the renewal and why,
 * the connections that will need fixing, a verdict ("OK", "at risk", "will expire", or "beyond
 * --until" when the window ends after the horizon) and what to do by when.
 */
import { pooledKeyPairSource } from '../crypto/index.js';
import type { KeyPairSource } from '../crypto/types.js';
import { takesPartInRenewals } from '../domain/agentVersion.js';
import { RekeyError, errorKind } from '../kernel/errors.js';
import type { GroupEvent, Timed } from '../domain/events.js';
import { decideGroup } from '../domain/group/decide.js';
import { GROUP_NOT_FOUND } from '../domain/group/errors.js';
import { evolveGroup } from '../domain/group/evolve.js';
import { primaryKey, type GroupState } from '../domain/group/state.js';
import { DEFAULT_CHECK_IN_INTERVAL_MINUTES, DEFAULT_PICKUP_DELAY_MINUTES } from '../domain/periods.js';
import { MS_PER_MINUTE, parseInstant, toIso, type Instant } from '../domain/time.js';
import { Engine } from '../engine/engine.js';
import { Fleet } from '../engine/fleet.js';
import { randomIds, seededIds } from '../engine/ids.js';
import { streamKind } from '../domain/streams.js';
import type { Scenario, ScenarioMachine } from '../simulation/scenario.js';
import { simulate } from '../simulation/simulator.js';
import type { EventStore, RecordedEvent } from '../store/port.js';
import { tablesAt } from '../../projections/index.js';
import { machineHabits, NO_HABITS, type Habits, type MachineHabit } from './habits.js';
import { StandInCache, standInWorld, type StandInWorld } from './standIn.js';
import { readWholeLog } from '../store/logPages.js';

export const STORE_EMPTY = errorKind('STORE_EMPTY', 'validation');
export const UNTIL_INVALID = errorKind('UNTIL_INVALID', 'validation');

export type MissCode = 'offline' | 'agentOutdated' | 'keyExpired' | 'noCheckIn';
export type Verdict = 'OK' | 'at risk' | 'will expire' | 'beyond --until';

export interface ForecastMiss {
  readonly machine: string;
  readonly reason: string;
  /** Extension: the reason as a code. */
  readonly code: MissCode;
}

export interface ForecastTodo {
  readonly by: string;
  readonly what: string;
}

export interface ForecastGroup {
  readonly name: string;
  readonly renewalStart: string;
  readonly renewalEnd: string;
  readonly willMiss: ForecastMiss[];
  readonly connectionsToFix: string[];
  readonly verdict: Verdict;
  readonly todo: ForecastTodo[];
  /** Extension: why the group's key will expire (R16), else null. */
  readonly expiresBecause: string | null;
  /** Extension: who issues the new key and when, in the forecast (null if nobody does). */
  readonly newKeyIssuedBy: string | null;
  readonly newKeyIssuedAt: string | null;
  /** Extension: the settings the window follows. */
  readonly keyValidityPeriod: number;
  readonly keyExpiryGracePeriod: number;
  readonly machines: number;
}

export interface Forecast {
  readonly from: string;
  /** Extension: the end of the simulated horizon. */
  readonly until: string;
  readonly groups: ForecastGroup[];
  /** Extension: groups with no renewal to forecast (no key yet, key expired), with why. */
  readonly skipped: { readonly name: string; readonly reason: string }[];
  /** Extension: every machine's assumed online habit and where it comes from. */
  readonly habits: { readonly machine: string; readonly habit: string; readonly source: string }[];
  readonly assumptions: string[];
}

export interface SettingChange {
  readonly group: string;
  readonly setting: 'keyValidityPeriod' | 'keyExpiryGracePeriod';
  readonly minutes: number;
}

export interface ForecastOptions {
  readonly keys: KeyPairSource;
  readonly habits?: Habits;
  readonly until?: Instant;
  /** What-if: settings changed at the start (validated by the rules, R1/R2; picked up after R4's delay). */
  readonly changes?: readonly SettingChange[];
  /** Share stand-ins between runs (a what-if and its baseline). */
  readonly standIns?: StandInCache;
  readonly pickupDelayMinutes?: number;
}

export const FORECAST_ASSUMPTIONS = [
  'machines are online as their habits say; without a habits entry, a machine whose lastheartbeatdate is more than 10,080 minutes before the start is offline, any other always online',
  'an online machine checks in every 1,440 minutes from the start of its online interval (R21)',
  'no desktop flow connection runs: a connection not re-encrypted during the window needs fixing after it',
  'no agent is updated, no machine joins or leaves, no setting changes (but the what-if ones)',
  'the simulated machines hold stand-ins for the real keys (fresh keys with the same dates): the forecast is about timing and who misses, never about decrypting real credentials',
];

const FAR_FUTURE = 8.64e15;

/**
 * The keys a forecast uses (stand-ins and the renewal keys its simulated machines issue): real
 * RSA-2048 keys from a small recycled pool, made on first use. They only have to work (wrap, unwrap,
 * sign, encrypt): a forecast is about timing and who misses, and nothing of it leaves the process.
 */
export function forecastKeys(): KeyPairSource {
  let pool: KeyPairSource | undefined;
  return { next: () => (pool ??= pooledKeyPairSource({ size: 2, recycle: true })).next() };
}

interface Window {
  readonly start: Instant;
  readonly end: Instant;
  /** True when the renewal is already under way at the start. */
  readonly underWay: boolean;
}

/** The next (or current) renewal window of a group, by the group's own scheduler (R3, R4, R5). */
export function nextWindow(state: GroupState): Window | null {
  if (state.lifecycle !== 'active' || !primaryKey(state)) return null;
  if (state.renewal) return { start: state.renewal.startsAt, end: state.renewal.endsAt, underWay: true };
  const ahead = decideGroup({ type: 'ProcessDue', at: FAR_FUTURE }, { ...state, members: {} });
  const started = ahead.find((event) => event.type === 'RenewalStarted') as Timed<Extract<GroupEvent, { type: 'RenewalStarted' }>> | undefined;
  return started ? { start: started.at, end: parseInstant(started.data.endsAt), underWay: false } : null;
}

/**
 * Checks what can be checked on the log alone, before any key is made: a store with groups, an
 * --until after its head, and what-if changes the rules accept (R1, R2), in order.
 */
export async function precheck(source: EventStore, options: Pick<ForecastOptions, 'until' | 'changes' | 'pickupDelayMinutes'>): Promise<{ log: RecordedEvent[]; head: Instant }> {
  const log = await readWholeLog(source);
  const fleet = new Fleet();
  let head: Instant | null = null;
  for (const event of log) {
    fleet.apply(event);
    const at = Date.parse(event.metadata.occurredAt);
    if (Number.isFinite(at) && (head === null || at > head)) head = at;
  }
  if (head === null || fleet.groupNames().length === 0) {
    throw new RekeyError(STORE_EMPTY, 'the store holds no machine group to forecast; import an export (rekey import) or simulate a scenario into it first', {}, 'validation');
  }
  if (options.until !== undefined && options.until <= head) {
    throw new RekeyError(UNTIL_INVALID, `--until ${toIso(options.until)} is not after the head of the log ${toIso(head)}; expected a later instant`, { until: toIso(options.until), from: toIso(head) }, 'validation');
  }
  const states = new Map<string, GroupState>();
  for (const change of options.changes ?? []) {
    const state = states.get(change.group) ?? fleet.group(change.group);
    if (!state) {
      throw new RekeyError(GROUP_NOT_FOUND, `machine group ${change.group} not found; known groups: ${fleet.groupNames().join(', ') || 'none'}`, { group: change.group });
    }
    const type = change.setting === 'keyValidityPeriod' ? 'SetKeyValidityPeriod' : 'SetKeyExpiryGracePeriod';
    const events = decideGroup({ type, at: head, minutes: change.minutes, pickupDelayMinutes: options.pickupDelayMinutes ?? DEFAULT_PICKUP_DELAY_MINUTES }, state);
    states.set(change.group, events.reduce((s, e) => evolveGroup(s, e), state));
  }
  return { log, head };
}

export async function forecast(source: EventStore, options: ForecastOptions): Promise<Forecast> {
  const { log } = await precheck(source, options);
  const standIns = options.standIns ?? new StandInCache(options.keys);
  const world = await standInWorld(source, { standIns, log });
  const from = world.head!;
  const pickupDelayMinutes = options.pickupDelayMinutes ?? DEFAULT_PICKUP_DELAY_MINUTES;

  // ---- what-if changes, recorded at the start through the rules (R1, R2, R4) ----
  if (options.changes && options.changes.length > 0) {
    const engine = await Engine.open({ store: world.store, clock: { now: () => from }, ids: randomIds(), pickupDelayMinutes });
    for (const change of options.changes) {
      if (change.setting === 'keyValidityPeriod') await engine.setKeyValidityPeriod(change.group, change.minutes);
      else await engine.setKeyExpiryGracePeriod(change.group, change.minutes);
    }
  }
  const startPosition = await world.store.headPosition();
  const initial = new Map<string, GroupState>();
  {
    const engine = await Engine.open({ store: world.store, clock: { now: () => from }, ids: seededIds(1) });
    for (const name of engine.fleet.groupNames()) initial.set(name, engine.fleet.group(name)!);
  }

  // ---- windows and horizon ----
  const windows = new Map<string, Window>();
  const skipped: { name: string; reason: string }[] = [];
  for (const [name, state] of initial) {
    const window = nextWindow(state);
    if (window) windows.set(name, window);
    else if (state.lifecycle === 'expired') skipped.push({ name, reason: 'its key expired because no machine renewed it (R16): the group cannot be used; delete it and create a new one' });
    else skipped.push({ name, reason: 'it has no key yet: the first machine that joins issues one, so there is nothing to renew' });
  }
  const until = options.until ?? Math.max(from + MS_PER_MINUTE, ...[...windows.values()].map((w) => w.end));
  if (until <= from) {
    throw new RekeyError(UNTIL_INVALID, `--until ${toIso(until)} is not after the head of the log ${toIso(from)}; expected a later instant`, { until: toIso(until), from: toIso(from) }, 'validation');
  }

  // ---- machines and their habits ----
  const { tables } = await tablesAt(world.store, {});
  const heartbeats = new Map(tables.flowmachines.map((row) => [String(row.name), row.lastheartbeatdate === null ? null : Date.parse(String(row.lastheartbeatdate))]));
  const members: { name: string; group: string; agentVersion: string; checkIn: number }[] = [];
  // Every member of every group (an expired group's too: the simulator needs an agent for each).
  for (const [group, state] of initial) {
    for (const member of Object.values(state.members)) members.push({ name: member.name, group, agentVersion: member.agentVersion, checkIn: member.checkInIntervalMinutes });
  }
  members.sort((a, b) => a.name.localeCompare(b.name));
  const habits = machineHabits(options.habits ?? NO_HABITS, members.map((m) => ({ name: m.name, lastHeartbeatAt: heartbeats.get(m.name) ?? null })), from, until);
  const habitOf = new Map(habits.map((h) => [h.machine, h]));
  const intervals = [...new Set(members.map((m) => m.checkIn))];
  const checkInIntervalMinutes = intervals.length === 1 ? intervals[0]! : DEFAULT_CHECK_IN_INTERVAL_MINUTES;

  const scenario: Scenario = {
    start: from,
    end: until,
    seed: 1,
    settings: { pickupDelayMinutes, checkInIntervalMinutes },
    groups: [],
    machines: members.map((m): ScenarioMachine => ({ name: m.name, group: m.group, agentVersion: m.agentVersion, joinAt: null, online: habitOf.get(m.name)!.intervals })),
    connections: [],
    actions: [],
  };
  await simulate(scenario, { store: world.store, keys: options.keys, continuation: { machines: world.machines } });

  const events = (await readWholeLog(world.store)).filter((e) => e.position > startPosition);
  const groups = [...windows.entries()].map(([name, window]) =>
    groupForecast(name, initial.get(name)!, window, until, events, world, habitOf, checkInIntervalMinutes));
  return {
    from: toIso(from),
    until: toIso(until),
    groups: groups.sort((a, b) => a.name.localeCompare(b.name)),
    skipped: skipped.sort((a, b) => a.name.localeCompare(b.name)),
    habits: habits.map(({ machine, habit, source }) => ({ machine, habit, source })),
    assumptions: FORECAST_ASSUMPTIONS,
  };
}

function groupForecast(
  name: string,
  state: GroupState,
  window: Window,
  until: Instant,
  events: readonly RecordedEvent[],
  world: StandInWorld,
  habitOf: ReadonlyMap<string, MachineHabit>,
  checkInMinutes: number,
): ForecastGroup {
  const stream = world.fleet.groupStreamOf(name)!;
  const own = events.filter((e) => e.stream === stream);
  const at = (e: RecordedEvent) => Date.parse(e.metadata.occurredAt);
  let oldVersion = state.renewal?.oldVersion ?? null;
  let start = window.start;
  if (oldVersion === null) {
    const started = own.find((e) => e.type === 'RenewalStarted');
    if (started) {
      oldVersion = Number(started.data.keyVersion);
      start = at(started);
    }
  }
  const retired = oldVersion === null ? undefined : own.find((e) => e.type === 'KeyExpired' && Number(e.data.keyVersion) === oldVersion);
  const end = retired ? at(retired) : window.end;
  const issued = oldVersion === null ? undefined : own.find((e) => e.type === 'KeyIssued' && Number(e.data.version) === oldVersion! + 1);
  const issuedByAtStart = state.renewal?.newVersion != null ? state.keys.find((k) => k.version === state.renewal!.newVersion) : undefined;
  const newKeyIssuedBy = issued ? String(issued.data.issuedBy) : issuedByAtStart ? (issuedByAtStart.issuedBy || null) : null;
  const newKeyIssuedAt = issued ? at(issued) : issuedByAtStart ? issuedByAtStart.createdAt : null;
  const reached = retired !== undefined;
  const atEnd = (e: RecordedEvent) => reached && at(e) === end;
  const groupExpired = own.find((e) => e.type === 'GroupKeyExpired' && atEnd(e));
  const missedAtEnd = new Set(own.filter((e) => e.type === 'MachineKeyExpired' && Number(e.data.keyVersion) === oldVersion && atEnd(e)).map((e) => String(e.data.machine)));

  const S = toIso(start);
  const E = toIso(end);
  const members = Object.values(state.members).sort((a, b) => a.name.localeCompare(b.name));
  const willMiss: ForecastMiss[] = [];
  for (const member of members) {
    if (member.status === 3) {
      willMiss.push({ machine: member.name, reason: 'already KeyExpired (it missed an earlier renewal): it takes no new key until it rejoins', code: 'keyExpired' });
      continue;
    }
    if (!missedAtEnd.has(member.name)) continue;
    const habit = habitOf.get(member.name);
    const online = (habit?.intervals ?? []).some((i) => i.from < end && i.to > start);
    if (!takesPartInRenewals(member.agentVersion)) {
      willMiss.push({ machine: member.name, reason: `agent version ${member.agentVersion} is below 2.23: it neither issues nor takes a renewal key (R8)`, code: 'agentOutdated' });
    } else if (!online) {
      willMiss.push({ machine: member.name, reason: `offline through the window ${S} to ${E} (${habit ? `${habit.habit}; ${habit.source}` : 'no habit'})`, code: 'offline' });
    } else {
      willMiss.push({ machine: member.name, reason: `online during the window only between its check-ins (every ${checkInMinutes} minutes from the start of each online interval), so it never checked in`, code: 'noCheckIn' });
    }
  }

  // Connections of the group, or of one of its members alone, that need fixing after the window.
  const memberNames = new Set(members.map((m) => m.name));
  const targets = (c: { target: { type: string; name: string } }) => (c.target.type === 'group' ? c.target.name === name : memberNames.has(c.target.name));
  const alreadyBroken = new Set<string>();
  const connectionStreams = new Map<string, string>();
  for (const [connectionStream, slot] of world.fleet.connections) {
    if (!slot.state.exists || !targets(slot.state)) continue;
    connectionStreams.set(connectionStream, slot.state.name);
    if (slot.state.needsFix) alreadyBroken.add(slot.state.name);
  }
  const brokenByWindow = new Set<string>();
  for (const e of events) {
    if (streamKind(e.stream) !== 'connection' || e.type !== 'ConnectionNeedsFix' || !connectionStreams.has(e.stream)) continue;
    if (reached && at(e) <= end) brokenByWindow.add(connectionStreams.get(e.stream)!);
  }
  const connectionsToFix = [...new Set([...alreadyBroken, ...brokenByWindow])].sort();

  const expiresBecause = groupExpired
    ? (members.length === 0
      ? 'group empty: a group needs at least one machine online during its renewal, else its key expires (R16)'
      : `no member will hold the new key when the old one retires: ${String(groupExpired.data.reason)} (R16)`)
    : null;
  const verdict: Verdict = !reached ? 'beyond --until' : groupExpired ? 'will expire' : willMiss.length > 0 ? 'at risk' : 'OK';

  // ---- what to do, by when ----
  const todo: ForecastTodo[] = [];
  const list = (names: readonly string[]) => names.join(', ');
  const of = (code: MissCode) => willMiss.filter((m) => m.code === code).map((m) => m.machine);
  if (members.length === 0) todo.push({ by: S, what: `add a machine to ${name} before ${S} (an empty group's key expires at ${E}), or delete ${name}` });
  const outdated = members.filter((m) => m.status !== 3 && !takesPartInRenewals(m.agentVersion));
  if (outdated.length > 0) {
    todo.push({ by: S, what: `update Power Automate for desktop to 2.23 or above on ${list(outdated.map((m) => `${m.name} (${m.agentVersion})`))} before ${S}, and bring them online between ${S} and ${E}` });
  }
  const offline = [...of('offline'), ...of('noCheckIn')];
  if (offline.length > 0) {
    todo.push({ by: E, what: `bring ${list(offline)} online between ${S} and ${E}, long enough to check in once (within ${checkInMinutes} minutes of coming online)` });
  }
  if (alreadyBroken.size > 0) todo.push({ by: S, what: `fix ${list([...alreadyBroken].sort())} (already "Fix connection"): re-enter the credentials` });
  const toRun = [...brokenByWindow].filter((c) => !alreadyBroken.has(c)).sort();
  if (toRun.length > 0 && !groupExpired) {
    todo.push({ by: E, what: `run ${list(toRun)} at least once between ${newKeyIssuedAt === null ? S : toIso(newKeyIssuedAt)} and ${E} on a machine that holds the new key, or fix ${toRun.length === 1 ? 'it' : 'them'} after ${E}` });
  }
  if (!groupExpired && reached && newKeyIssuedAt !== null) {
    const rejoin = [...of('offline'), ...of('noCheckIn'), ...of('agentOutdated'), ...of('keyExpired')].sort();
    const then = rejoin.length > 0 ? `, then rejoin ${list(rejoin)} with it` : ' before adding a machine';
    todo.push({ by: E, what: `regenerate the group password after ${toIso(newKeyIssuedAt)} on a machine that holds the new key${newKeyIssuedBy ? ` (${newKeyIssuedBy})` : ''}${then}` });
  } else if (of('keyExpired').length > 0 && !groupExpired) {
    todo.push({ by: S, what: `rejoin ${list(of('keyExpired'))} with the group's current password (regenerate it first on a machine that holds the primary key)` });
  }
  if (groupExpired) todo.push({ by: E, what: `otherwise ${name}'s key expires at ${E} and only deletion remains: every connection targeting it will need fixing` });
  todo.sort((a, b) => a.by.localeCompare(b.by));

  return {
    name,
    renewalStart: S,
    renewalEnd: E,
    willMiss,
    connectionsToFix,
    verdict,
    todo,
    expiresBecause,
    newKeyIssuedBy,
    newKeyIssuedAt: newKeyIssuedAt === null ? null : toIso(newKeyIssuedAt),
    keyValidityPeriod: state.recorded.validity,
    keyExpiryGracePeriod: state.recorded.grace,
    machines: members.length,
  };
}
