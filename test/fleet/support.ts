/** Helpers for the fleet tests: run scenarios in memory, export their tables, read what really happened. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pooledKeyPairSource } from '../../src/crypto/index.js';
import type { GroupEvent, Timed } from '../../src/domain/events.js';
import { evolveGroup } from '../../src/domain/group/evolve.js';
import { initialGroupState, type GroupState } from '../../src/domain/group/state.js';
import { parseInstant } from '../../src/domain/time.js';
import { toDomainEvent } from '../../src/domain/codec.js';
import { Fleet } from '../../src/engine/fleet.js';
import { toCsv } from '../../src/fleet/csv.js';
import { loadScenario } from '../../src/simulation/loader.js';
import { simulate } from '../../src/simulation/simulator.js';
import { createInMemoryEventStore } from '../../src/store/memory.js';
import type { EventStore } from '../../src/store/port.js';
import { COLUMNS, queryTable, type TableName } from '../../projections/index.js';
import { readWholeLog } from '../../src/store/logPages.js';

/** Real RSA keys, recycled: the tests only need them to work, not to be distinct forever. */
export const keys = pooledKeyPairSource({ size: 6, recycle: true });

type Json = Record<string, any>;

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'rekey-fleet-'));
}

/** The scenario cut at `end`: what happens at or after it is dropped (intervals, runs, actions). */
export function truncate(scenario: Json, end: string): Json {
  const cut = parseInstant(end);
  const before = (at: string) => parseInstant(at) < cut;
  return {
    ...scenario,
    end,
    machines: scenario.machines.map((m: Json) => ({ ...m, online: (m.online ?? []).filter((i: Json) => before(i.from)) })),
    connections: (scenario.connections ?? []).map((c: Json) => ({ ...c, runAt: (c.runAt ?? []).filter(before) })),
    actions: (scenario.actions ?? []).filter((a: Json) => before(a.at)),
  };
}

export async function run(scenario: Json, store: EventStore = createInMemoryEventStore()): Promise<EventStore> {
  await simulate(loadScenario(scenario), { store, keys });
  return store;
}

/** The habits file matching a scenario's online intervals exactly. */
export function habitsOf(scenario: Json): Json {
  const habits: Json = {};
  for (const m of scenario.machines) {
    habits[m.name] = (m.online ?? []).length === 0 ? 'offline' : { intervals: m.online.map((i: Json) => ({ from: i.from, to: i.to })) };
  }
  return habits;
}

const TABLE_NAMES: TableName[] = ['flowmachinegroups', 'flowmachines', 'desktopflowconnections'];

/** Writes the three tables as `rekey query --json` (or `--csv`) would print them; returns the files. */
export async function exportTables(store: EventStore, dir: string, format: 'json' | 'csv' = 'json'): Promise<string[]> {
  const files: string[] = [];
  for (const table of TABLE_NAMES) {
    const response = await queryTable({ store, table });
    const file = join(dir, `${table}.${format}`);
    writeFileSync(file, format === 'json' ? `${JSON.stringify(response, null, 2)}\n` : toCsv(COLUMNS[table], response.value));
    files.push(file);
  }
  return files;
}

export interface Outcome {
  readonly start: string;
  readonly end: string;
  /** Members that did not hold the new key when the old one retired. */
  readonly missed: string[];
  readonly expired: boolean;
  readonly connectionsToFix: string[];
}

/** What really happened in a group's first renewal window that ends after `after`. */
export async function outcome(store: EventStore, group: string, after: string): Promise<Outcome | undefined> {
  const log = await readWholeLog(store);
  const from = parseInstant(after);
  const fleet = new Fleet();
  let state: GroupState = initialGroupState;
  let stream: string | undefined;
  let start: number | undefined;
  for (const recorded of log) {
    const event = toDomainEvent(recorded);
    if (recorded.type === 'GroupCreated' && (recorded.data as Json).name === group) stream = recorded.stream;
    if (recorded.stream === stream) {
      if (recorded.type === 'RenewalStarted') start = event.at;
      if (recorded.type === 'KeyExpired' && event.at > from && state.renewal && (recorded.data as Json).keyVersion === state.renewal.oldVersion) {
        const newVersion = state.renewal.newVersion;
        const missed = Object.values(state.members).filter((m) => newVersion === null || !m.keyVersions.includes(newVersion)).map((m) => m.name).sort();
        const end = event.at;
        // Everything at the retirement instant, then the connections that need fixing.
        const rest = log.filter((e) => e.position >= recorded.position && Date.parse(e.metadata.occurredAt) === end);
        for (const e of log.filter((e) => e.position < recorded.position)) fleet.apply(e);
        for (const e of rest) fleet.apply(e);
        const expired = rest.some((e) => e.stream === stream && e.type === 'GroupKeyExpired');
        const members = new Set(Object.keys(state.members));
        const connectionsToFix = [...fleet.connections.values()]
          .map((slot) => slot.state)
          .filter((c) => c.exists && c.needsFix && (c.target.type === 'group' ? c.target.name === group : members.has(c.target.name)))
          .map((c) => c.name)
          .sort();
        return { start: new Date(start!).toISOString(), end: new Date(end).toISOString(), missed, expired, connectionsToFix };
      }
      state = evolveGroup(state, event as Timed<GroupEvent>);
    }
  }
  return undefined;
}

export function writeJson(dir: string, name: string, value: unknown): string {
  const file = join(dir, name);
  writeFileSync(file, typeof value === 'string' ? value : JSON.stringify(value, null, 2));
  return file;
}
