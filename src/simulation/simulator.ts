/**
 * The discrete-event simulator: drives the real engine and real machine agents with a virtual clock,
 * jumping from one due instant to the next (never minute by minute). At each instant it takes, in
 * order: the engine's due times, session edges, joins and check-ins, connection creation and runs,
 * then the scenario's actions in file order (docs/model.md).
 *
 * Check-ins outside a renewal change nothing, so the agenda only holds check-ins of machines for
 * which one could (a member that still has to issue, take or re-encrypt with the new key); the rest
 * of the daily cadence is derived by the projections (R21) instead of being simulated.
 */
import type { KeyObject } from 'node:crypto';
import { setImmediate } from 'node:timers/promises';
import type { KeyPairSource } from '../crypto/types.js';
import { takesPartInRenewals } from '../domain/agentVersion.js';
import { RekeyError, isRekeyError } from '../kernel/errors.js';
import { memberOf, type GroupState } from '../domain/group/state.js';
import { NO_MACHINE_CAN_RUN_CODE, expiredConnection } from '../domain/connection/runFailures.js';
import { toIso, type Instant, MS_PER_MINUTE } from '../domain/time.js';
import { MachineAgent } from '../engine/agent.js';
import { Engine } from '../engine/engine.js';
import { seededIds } from '../engine/ids.js';
import { createConnection, fixConnection } from '../engine/portal.js';
import type { EventStore } from '../store/port.js';
import { Agenda, RANK } from './agenda.js';
import { SIMULATION_STREAM } from './runMarkers.js';
import { intervalAt, nextCheckIn } from './cadence.js';
import type { Scenario, ScenarioAction, ScenarioConnection, ScenarioMachine } from './scenario.js';

export const STORE_NOT_EMPTY = 'STORE_NOT_EMPTY';
export { SIMULATION_STREAM };

export interface Rejection {
  readonly at: string;
  readonly command: string;
  readonly target: string;
  readonly code: string;
  readonly message: string;
}

export interface SimulationOptions {
  readonly store: EventStore;
  readonly keys: KeyPairSource;
  /** Called now and then with the share of simulated time done, 0 to 1. */
  readonly onProgress?: (fraction: number, at: Instant) => void;
  /**
   * Continue from the state already in the store instead of an empty one (`rekey forecast`, a
   * scenario's `from`): groups the store holds are not created again, and every member of a group in
   * the store must be among the scenario's machines (`joinAt` null), with its id and the keys it
   * holds at the start given here. `start` must not be before the store's latest instant.
   */
  readonly continuation?: Continuation;
}

/** A private key a machine holds when a continued simulation starts (a stand-in: see src/fleet). */
export interface HeldKeyMaterial {
  readonly thumbprint: string;
  readonly privateKey: KeyObject;
  readonly certificatePem: string;
  /** null for a lone machine's own key. */
  readonly group: string | null;
}

export interface Continuation {
  readonly machines: ReadonlyMap<string, { readonly machineId: string; readonly keys: readonly HeldKeyMaterial[] }>;
}

export interface SimulationResult {
  readonly seed: number;
  readonly engine: Engine;
  readonly rejected: readonly Rejection[];
  readonly wallMilliseconds: number;
}

type Item =
  | { kind: 'edge'; machine: SimulatedMachine; online: boolean }
  | { kind: 'join'; machine: SimulatedMachine }
  | { kind: 'checkIn'; machine: SimulatedMachine }
  | { kind: 'create'; connection: ScenarioConnection }
  | { kind: 'run'; connection: ScenarioConnection; every: boolean }
  | { kind: 'action'; action: ScenarioAction };

interface SimulatedMachine {
  readonly spec: ScenarioMachine;
  readonly agent: MachineAgent;
  readonly order: number;
  /** When it last joined its group: it is online at that instant even outside its intervals. */
  joinedAt: Instant | null;
  lastCheckInAt: Instant | null;
  /** The agenda entry that counts; others for this machine are stale and skipped. */
  scheduledCheckIn: Instant | null;
}

/**
 * How many keys a key source should make ahead for this scenario: every group renews in the same
 * weeks when the groups were created together, so one key per group, and a few for the machines
 * that register on their own.
 */
export function keysAheadFor(scenario: Pick<Scenario, 'groups'>): number {
  return scenario.groups.length + 4;
}

export async function simulate(scenario: Scenario, options: SimulationOptions): Promise<SimulationResult> {
  const began = performance.now();
  const head = await options.store.headPosition();
  if (!options.continuation && head > 0) {
    throw new RekeyError(STORE_NOT_EMPTY, 'the store already holds events; simulate runs into a new or empty store (choose another --db file)', {}, 'validation');
  }
  const clock = { at: scenario.start, now() { return this.at; } };
  // A continued run draws its ids from another stream than the run that made the log (mixed with its
  // head), or its command ids would repeat recorded ones and be skipped as retries (idempotence).
  const idSeed = options.continuation ? (Math.imul(scenario.seed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(head, 0xc2b2ae35)) >>> 0 : scenario.seed;
  const engine = await Engine.open({ store: options.store, clock, ids: seededIds(idSeed), pickupDelayMinutes: scenario.settings.pickupDelayMinutes });
  const checkInMinutes = scenario.settings.checkInIntervalMinutes;
  const rejected: Rejection[] = [];
  const agenda = new Agenda<Item>();
  const machineIds = seededIds(idSeed ^ 0x5eed);

  const machines = new Map<string, SimulatedMachine>();
  [...scenario.machines].sort((a, b) => a.name.localeCompare(b.name)).forEach((spec, order) => {
    const known = options.continuation?.machines.get(spec.name);
    const agent = new MachineAgent({ engine, machineId: known?.machineId ?? machineIds.next(), name: spec.name, agentVersion: spec.agentVersion, keys: options.keys });
    for (const key of known?.keys ?? []) agent.holdKey(key);
    machines.set(spec.name, { spec, agent, order, joinedAt: null, lastCheckInAt: null, scheduledCheckIn: null });
  });
  const groupPasswords = new Map(scenario.groups.map((group) => [group.name, group.password]));

  // ---- the agenda, filled up front with everything the file schedules ----
  for (const machine of machines.values()) {
    for (const interval of machine.spec.online) {
      agenda.push({ at: interval.from, rank: RANK.sessionEdge, order: machine.order * 2 + 1, item: { kind: 'edge', machine, online: true } });
      agenda.push({ at: interval.to, rank: RANK.sessionEdge, order: machine.order * 2, item: { kind: 'edge', machine, online: false } });
    }
    if (machine.spec.joinAt !== null) agenda.push({ at: machine.spec.joinAt, rank: RANK.join, order: machine.order, item: { kind: 'join', machine } });
  }
  scenario.connections.forEach((connection, order) => {
    agenda.push({ at: connection.createAt, rank: RANK.createConnection, order, item: { kind: 'create', connection } });
    for (const at of connection.runAt) agenda.push({ at, rank: RANK.run, order, item: { kind: 'run', connection, every: false } });
    if (connection.runEveryMinutes !== null) {
      agenda.push({ at: connection.createAt + connection.runEveryMinutes * MS_PER_MINUTE, rank: RANK.run, order, item: { kind: 'run', connection, every: true } });
    }
  });
  for (const action of scenario.actions) agenda.push({ at: action.at, rank: RANK.action, order: action.index, item: { kind: 'action', action } });

  // ---- helpers ----
  const isOnline = (machine: SimulatedMachine, at: Instant) => intervalAt(machine.spec.online, at) !== null || machine.joinedAt === at;
  const reject = (at: Instant, command: string, target: string, error: unknown) => {
    if (!isRekeyError(error)) throw error;
    rejected.push({ at: toIso(at), command, target, code: error.code, message: error.message });
  };

  /** Could a check-in of this member change anything now (R11, R12, R14)? */
  const wantsCheckIn = (machine: SimulatedMachine, group: GroupState): boolean => {
    const member = group.members[machine.spec.name];
    const renewal = group.renewal;
    if (!member || !renewal || member.status === 3 || !takesPartInRenewals(member.agentVersion)) return false;
    if (!member.keyVersions.includes(renewal.oldVersion)) return false;
    if (renewal.newVersion === null || !member.keyVersions.includes(renewal.newVersion)) return true;
    if (!group.proactiveReencryption) return false;
    const newThumbprint = group.keys.find((key) => key.version === renewal.newVersion)!.thumbprint;
    return engine.fleet.connectionsTargeting(group.name).some((c) => !c.needsFix && !c.ciphertexts.some((x) => x.thumbprint === newThumbprint));
  };

  const scheduleCheckIn = (machine: SimulatedMachine, from: Instant) => {
    const groupName = engine.fleet.groupOfMachine(machine.spec.name);
    const group = groupName === null ? undefined : engine.fleet.group(groupName);
    let next: Instant | null = null;
    if (group && wantsCheckIn(machine, group)) {
      next = nextCheckIn(machine.spec.online, from, checkInMinutes, machine.lastCheckInAt !== null && machine.lastCheckInAt >= from);
    }
    if (next === machine.scheduledCheckIn) return;
    machine.scheduledCheckIn = next;
    if (next !== null) agenda.push({ at: next, rank: RANK.checkIn, order: machine.order, item: { kind: 'checkIn', machine } });
  };

  /** After anything happened to groups, (re)plan the check-ins of their members. */
  const replanChangedGroups = (from: Instant) => {
    for (const stream of engine.fleet.takeChangedGroups()) {
      for (const name of Object.keys(engine.fleet.groups.get(stream)!.state.members)) scheduleCheckIn(machines.get(name)!, from);
    }
  };

  const checkIn = async (machine: SimulatedMachine, at: Instant) => {
    machine.lastCheckInAt = at;
    await machine.agent.checkIn();
  };

  const join = async (machine: SimulatedMachine, at: Instant, password: string) => {
    const group = machine.spec.group!;
    await machine.agent.join(group, password);
    machine.joinedAt = at;
    await checkIn(machine, at); // joining counts as a check-in (R21)
    const interval = intervalAt(machine.spec.online, at);
    if (interval === null) await engine.disconnectMachine(group, machine.spec.name);
    // Record the session's cadence: counted from the interval's start, at the configured interval.
    else await engine.connectMachine(group, machine.spec.name, checkInMinutes, { sessionStartedAt: interval.from });
  };

  const run = async (connection: ScenarioConnection, at: Instant) => {
    const state = engine.fleet.connection(connection.name);
    if (!state) return; // not created (yet, or refused): nothing to run
    if (state.needsFix) {
      const failure = expiredConnection(connection.name);
      await engine.recordRunFailure(connection.name, failure.code, failure.reason);
      return;
    }
    const target = connection.target;
    const groupName = target.type === 'group' ? target.name : null;
    const candidates = groupName !== null
      ? Object.keys(engine.fleet.group(groupName)?.members ?? {}).sort().map((name) => machines.get(name)!)
      : [machines.get(target.name)!];
    const online = candidates.filter((machine) => isOnline(machine, at));
    const runner = online.find((machine) => machine.agent.usableKeyFor(state) !== null);
    if (!runner) {
      const reason = online.length === 0
        ? `no machine of ${target.type} ${target.name} is online`
        : `no online machine of ${target.type} ${target.name} holds a live key the credentials are encrypted to`;
      await engine.recordRunFailure(connection.name, NO_MACHINE_CAN_RUN_CODE, reason);
      return;
    }
    await runner.agent.run(connection.name);
  };

  const act = async (action: ScenarioAction, at: Instant) => {
    switch (action.do) {
      case 'setKeyExpiryGracePeriod': return void (await engine.setKeyExpiryGracePeriod(action.group, action.minutes));
      case 'setKeyValidityPeriod': return void (await engine.setKeyValidityPeriod(action.group, action.minutes));
      case 'setProactiveReencryption': return void (await engine.setProactiveReencryption(action.group, action.enabled));
      case 'deleteGroup': return void (await engine.deleteGroup(action.group));
      case 'regeneratePassword': return machines.get(action.machine)!.agent.regeneratePassword(action.newPassword);
      case 'rejoin': return machines.get(action.machine)!.agent.rejoin(action.password);
      case 'addMachine': return join(machines.get(action.machine)!, at, action.password);
      case 'removeMachine': {
        const group = engine.fleet.groupOfMachine(action.machine);
        if (group === null) throw new RekeyError('MACHINE_NOT_MEMBER', `machine ${action.machine} is not a member of any machine group`, { machine: action.machine });
        return void (await engine.removeMachine(group, action.machine));
      }
      case 'updateAgent': return machines.get(action.machine)!.agent.updateAgent(action.agentVersion);
      case 'runConnection': {
        if (!engine.fleet.connection(action.connection)) engine.connection(action.connection); // throws CONNECTION_UNKNOWN
        return run(scenario.connections.find((c) => c.name === action.connection)!, at);
      }
      case 'fixConnection': {
        const spec = scenario.connections.find((c) => c.name === action.connection)!;
        return void (await fixConnection(engine, action.connection, { username: spec.username, password: action.password }));
      }
    }
  };

  const targetOf = (action: ScenarioAction): string =>
    'group' in action ? action.group : 'machine' in action ? action.machine : action.connection;

  // ---- the run itself is on the record: its seed, and its end as the log's latest instant ----
  const marker = (type: string, at: Instant, data: Record<string, unknown>) => ({
    type,
    data,
    metadata: { occurredAt: toIso(at), commandId: `${SIMULATION_STREAM}-${type}`, correlationId: SIMULATION_STREAM },
  });
  await options.store.append(SIMULATION_STREAM, [marker('SimulationStarted', scenario.start, { seed: scenario.seed, start: toIso(scenario.start), end: toIso(scenario.end) })], options.continuation ? 'any' : -1);

  // ---- the groups exist from the start ----
  for (const group of scenario.groups) {
    if (options.continuation && engine.fleet.group(group.name)) continue; // already in the continued state
    await engine.createGroup({ name: group.name, keyValidityPeriod: group.keyValidityPeriod, keyExpiryGracePeriod: group.keyExpiryGracePeriod, proactiveReencryption: group.proactiveReencryption });
  }

  if (options.continuation) {
    // A continued state: every member needs an agent; members connected in it but offline at the
    // start disconnect then (R21); those a renewal under way needs check in from the start on.
    for (const [, slot] of engine.fleet.groups) {
      for (const name of Object.keys(slot.state.members)) {
        if (!machines.has(name)) {
          throw new RekeyError('SCENARIO_INVALID', `machine ${name} of machine group ${slot.state.name} is in the store but not among the scenario's machines; a continued simulation needs every member`, { machine: name }, 'validation');
        }
      }
    }
    for (const machine of machines.values()) {
      const group = engine.fleet.groupOfMachine(machine.spec.name);
      const member = group === null ? undefined : engine.fleet.group(group)?.members[machine.spec.name];
      if (member?.connected && !isOnline(machine, scenario.start)) {
        agenda.push({ at: scenario.start, rank: RANK.sessionEdge, order: machine.order * 2, item: { kind: 'edge', machine, online: false } });
      }
    }
    replanChangedGroups(scenario.start);
  }

  // The loop's awaits are on a synchronous store, so they never let the event loop run: a turn every
  // 10 ms lets the key workers' answers in (and their next requests out), and signals and timers run.
  let lastTurn = performance.now();
  const eventLoopTurn = async () => {
    if (performance.now() - lastTurn < 10) return;
    await setImmediate();
    lastTurn = performance.now();
  };

  // ---- the main loop: from one due instant to the next ----
  const span = Math.max(1, scenario.end - scenario.start);
  let steps = 0;
  for (;;) {
    await eventLoopTurn(); // at the top: due times take the loop round without reaching its end
    const dueAt = engine.nextDueAt();
    const entry = agenda.peek();
    const at = Math.min(dueAt ?? Infinity, entry?.at ?? Infinity);
    if (!(at < scenario.end)) break;
    clock.at = Math.max(at, scenario.start);

    if (dueAt !== null && dueAt <= clock.at) {
      await engine.processDue();
      replanChangedGroups(clock.at);
      continue;
    }
    agenda.pop();
    const item = entry!.item;
    switch (item.kind) {
      case 'edge': {
        const group = engine.fleet.groupOfMachine(item.machine.spec.name);
        if (group !== null) {
          if (item.online) await engine.connectMachine(group, item.machine.spec.name, checkInMinutes);
          else await engine.disconnectMachine(group, item.machine.spec.name);
        }
        if (item.online) scheduleCheckIn(item.machine, clock.at);
        break;
      }
      case 'join':
        try {
          await join(item.machine, clock.at, groupPasswords.get(item.machine.spec.group!)!);
        } catch (error) {
          reject(clock.at, 'join', item.machine.spec.name, error);
        }
        break;
      case 'checkIn':
        if (item.machine.scheduledCheckIn !== clock.at) break; // superseded by a newer plan
        item.machine.scheduledCheckIn = null;
        await checkIn(item.machine, clock.at);
        scheduleCheckIn(item.machine, clock.at);
        break;
      case 'create':
        // A continued scenario lists a connection of the starting state to run or fix it, not to create it.
        if (options.continuation && engine.fleet.connection(item.connection.name)) break;
        try {
          if (item.connection.target.type === 'machine' && engine.fleet.groupOfMachine(item.connection.target.name) === null) {
            await machines.get(item.connection.target.name)!.agent.register();
          }
          await createConnection(engine, item.connection.name, item.connection.target, { username: item.connection.username, password: item.connection.password });
        } catch (error) {
          reject(clock.at, 'createConnection', item.connection.name, error);
        }
        break;
      case 'run':
        if (item.every) {
          agenda.push({ ...entry!, at: clock.at + item.connection.runEveryMinutes! * MS_PER_MINUTE });
        }
        await run(item.connection, clock.at);
        break;
      case 'action':
        try {
          await act(item.action, clock.at);
        } catch (error) {
          reject(clock.at, item.action.do, targetOf(item.action), error);
        }
        break;
    }
    replanChangedGroups(clock.at);
    if (options.onProgress && ++steps % 500 === 0) options.onProgress((clock.at - scenario.start) / span, clock.at);
  }
  clock.at = scenario.end;
  await engine.processDue();
  // Nothing happens at or after `end` (R21's half-open intervals): every session still open ends
  // there, so no check-in is derived at `end` for a machine that was online until then.
  for (const machine of [...machines.values()].sort((a, b) => a.order - b.order)) {
    const group = engine.fleet.groupOfMachine(machine.spec.name);
    const state = group === null ? undefined : engine.fleet.group(group);
    if (group !== null && state && memberOf(state, machine.spec.name)?.connected) await engine.disconnectMachine(group, machine.spec.name);
  }
  // Derived columns at the head of the log are evaluated at its latest instant: the scenario's end.
  await options.store.append(SIMULATION_STREAM, [marker('SimulationEnded', scenario.end, { rejected: rejected.length })], options.continuation ? 'any' : 0);
  await engine.sync();
  options.onProgress?.(1, scenario.end);
  return { seed: scenario.seed, engine, rejected, wallMilliseconds: performance.now() - began };
}
