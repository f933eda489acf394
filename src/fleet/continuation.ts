/**
 * Scenarios that start from an existing state (`"from": "store"` or `"from": {"export": [...]}`):
 * 1. the starting state is in the --db store (for `export`, the files are imported into the new or
 *    empty store first, as the state observed at the scenario's `start`);
 * 2. the simulation runs on a private stand-in copy of that store (standIn.ts), with every member of
 *    the starting state among the machines (those the file does not list follow the forecast's
 *    default habit);
 * 3. the events it recorded are appended to the --db store, each mention of a stand-in key's
 *    thumbprint mapped back to the observed key's. Key material the run made with a stand-in (the
 *    first renewal key wrapped under it, password packages and ciphertexts made with it) opens only
 *    with that stand-in, which is gone with the process: like every private key, never in the log.
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import type { KeyPairSource } from '../crypto/types.js';
import { RekeyError } from '../kernel/errors.js';
import { toIso, type Instant } from '../domain/time.js';
import { Problems, scenarioInvalid } from '../simulation/loader/problems.js';
import type { Scenario, ScenarioAction, ScenarioMachine } from '../simulation/scenario.js';
import { simulate, STORE_NOT_EMPTY, type SimulationResult } from '../simulation/simulator.js';
import type { EventStore } from '../store/port.js';
import { tablesAt } from '../../projections/index.js';
import { STORE_EMPTY } from './forecast.js';
import { machineHabits, NO_HABITS } from './habits.js';
import { importFleet, readFleet } from './importer.js';
import { replaceStrings, StandInCache, standInWorld } from './standIn.js';
import { readWholeLog } from '../store/logPages.js';

export interface ContinuedRun {
  readonly result: SimulationResult;
  /** Events appended to the --db store (the import's included). */
  readonly appended: number;
  /** Members of the starting state the scenario did not list, with the habit assumed for them. */
  readonly assumed: { readonly machine: string; readonly habit: string; readonly source: string }[];
}

export interface ContinueOptions {
  readonly store: EventStore;
  readonly keys: KeyPairSource;
  /** The scenario file, to resolve `from.export` paths against (default: the working directory). */
  readonly scenarioFile?: string;
  readonly onProgress?: (fraction: number, at: Instant) => void;
}

export async function runContinued(scenario: Scenario, options: ContinueOptions): Promise<ContinuedRun> {
  const from = scenario.from;
  if (!from) throw new TypeError('runContinued needs a scenario with `from`');
  const target = options.store;
  let appended = 0;
  const head = await target.headPosition();
  if (from.kind === 'export') {
    if (head > 0) {
      throw new RekeyError(STORE_NOT_EMPTY, 'the store already holds events; a scenario "from": {"export": [...]} imports into a new or empty store (choose another --db file, or use "from": "store")', {}, 'validation');
    }
    const base = options.scenarioFile ? dirname(options.scenarioFile) : process.cwd();
    const files = from.files.map((file) => (isAbsolute(file) ? file : resolve(base, file)));
    const report = await importFleet(target, readFleet(files, { asOf: scenario.start }));
    appended += report.events;
  } else if (head === 0) {
    throw new RekeyError(STORE_EMPTY, 'the store is empty; a scenario "from": "store" continues the state in the --db store (import an export or simulate a scenario into it first)', {}, 'validation');
  }

  const passwords = new Map(scenario.groups.map((group) => [group.name, group.password]));
  const world = await standInWorld(target, { standIns: new StandInCache(options.keys), passwords });
  const problems = new Problems();
  if (world.head !== null && scenario.start < world.head) {
    problems.add('start', `${toIso(scenario.start)} is before the starting state's latest instant ${toIso(world.head)}`, 'a start at or after the state it continues (time in the log only moves forward)');
  }
  const fleet = world.fleet;
  const isMachine = (name: string) => fleet.groupOfMachine(name) !== null || fleet.machineRegistration(name) !== null;
  for (const reference of scenario.externalReferences ?? []) {
    const found = reference.what === 'machine group' ? fleet.group(reference.name) !== undefined : isMachine(reference.name);
    if (!found) {
      problems.add(reference.path, `${JSON.stringify(reference.name)} is neither declared in this scenario nor a ${reference.what} of the starting state`, `the name of a ${reference.what} of this scenario or of the starting state`);
    }
  }
  scenario.connections.forEach((connection, index) => {
    const existing = fleet.connection(connection.name);
    if (existing && (existing.target.type !== connection.target.type || existing.target.name !== connection.target.name)) {
      problems.add(`connections[${index}]`, `targets ${connection.target.type} ${connection.target.name}, but connection ${connection.name} of the starting state targets ${existing.target.type} ${existing.target.name}`, 'the same target as in the starting state');
    }
  });
  if (problems.count > 0) throw scenarioInvalid(problems.list, options.scenarioFile);

  // ---- every member of the starting state is a machine of the run ----
  const listed = new Map(scenario.machines.map((machine) => [machine.name, machine]));
  const members: { name: string; group: string; agentVersion: string }[] = [];
  for (const name of fleet.groupNames()) {
    const state = fleet.group(name)!;
    for (const member of Object.values(state.members)) members.push({ name: member.name, group: name, agentVersion: member.agentVersion });
  }
  const unlisted = members.filter((m) => !listed.has(m.name));
  const { tables } = await tablesAt(world.store, {});
  const heartbeats = new Map(tables.flowmachines.map((row) => [String(row.name), row.lastheartbeatdate === null ? null : Date.parse(String(row.lastheartbeatdate))]));
  const assumed = machineHabits(NO_HABITS, unlisted.map((m) => ({ name: m.name, lastHeartbeatAt: heartbeats.get(m.name) ?? null })), scenario.start, scenario.end);
  const machines: ScenarioMachine[] = scenario.machines.map((machine) => {
    const member = members.find((m) => m.name === machine.name);
    return member && machine.group === null ? { ...machine, group: member.group } : machine;
  });
  for (const m of unlisted) {
    machines.push({ name: m.name, group: m.group, agentVersion: m.agentVersion, joinAt: null, online: assumed.find((a) => a.machine === m.name)!.intervals });
  }
  // A listed member whose agentVersion differs from the state's is updated at the start.
  const updates: ScenarioAction[] = [];
  for (const machine of scenario.machines) {
    const member = members.find((m) => m.name === machine.name);
    if (member && member.agentVersion !== machine.agentVersion) {
      updates.push({ at: scenario.start, index: -1 - updates.length, do: 'updateAgent', machine: machine.name, agentVersion: machine.agentVersion });
    }
  }
  const run: Scenario = { ...scenario, machines, actions: [...updates.reverse(), ...scenario.actions] };
  const copied = await world.store.headPosition();
  const result = await simulate(run, {
    store: world.store,
    keys: options.keys,
    continuation: { machines: world.machines },
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });

  // ---- the new events, back into the --db store, with the observed thumbprints ----
  const added = (await readWholeLog(world.store)).filter((event) => event.position > copied);
  const observed = (text: string) => world.observedOf.get(text);
  for (let i = 0; i < added.length; ) {
    const first = added[i]!;
    let j = i;
    while (j < added.length && added[j]!.stream === first.stream) j++;
    const batch = added.slice(i, j).map((event) => ({
      type: event.type,
      data: replaceStrings(event.data, observed) as Record<string, unknown>,
      metadata: { ...event.metadata },
    }));
    await target.append(first.stream, batch, first.revision - 1);
    appended += batch.length;
    i = j;
  }
  return { result, appended, assumed: assumed.map(({ machine, habit, source }) => ({ machine, habit, source })) };
}
