/**
 * Scenarios that start from an imported or stored state (`"from"`): the loader accepts names of the
 * starting state, the run continues it with stand-in keys, and what it records lands in the store
 * with the observed keys' thumbprints. Continuing a stored run at T gives the same renewals as the
 * uninterrupted run.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { isRekeyError, type RekeyError } from '../../src/kernel/errors.js';
import { runContinued } from '../../src/fleet/continuation.js';
import { readWholeLog } from '../../src/store/logPages.js';
import { loadScenario } from '../../src/simulation/loader.js';
import { createInMemoryEventStore } from '../../src/store/memory.js';
import { queryTable } from '../../projections/index.js';
import { exportTables, keys, outcome, run, tempDir, truncate, writeJson } from './support.js';

const fixture = JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures', 'roundtrip.json'), 'utf8'));
const T = '2030-06-01T00:00:00.000Z';
type Json = Record<string, any>;

function invalid(action: () => unknown): RekeyError {
  try {
    action();
  } catch (error) {
    expect(isRekeyError(error, 'SCENARIO_INVALID'), String(error)).toBe(true);
    return error as RekeyError;
  }
  throw new Error('expected SCENARIO_INVALID');
}

/** The rest of the fixture after T, as a scenario continuing the stored state. */
function continuation(from: unknown): Json {
  const rest = fixture.machines.map((m: Json) => ({
    name: m.name,
    agentVersion: m.agentVersion,
    online: m.online
      .filter((i: Json) => Date.parse(i.to) > Date.parse(T))
      .map((i: Json) => ({ from: Date.parse(i.from) < Date.parse(T) ? T : i.from, to: i.to })),
  }));
  return { from, start: T, end: fixture.end, seed: 11, groups: [], machines: rest };
}

describe('scenario "from": the loader', () => {
  it('accepts "store" and {"export": [...]}, and names of the starting state it does not declare', () => {
    const scenario = loadScenario({ ...continuation('store'), actions: [{ at: '2030-07-01T00:00:00Z', do: 'setKeyExpiryGracePeriod', group: 'Sales', minutes: 64800 }] });
    expect(scenario.from).toEqual({ kind: 'store' });
    expect(scenario.externalReferences).toEqual([{ path: 'actions[0].group', what: 'machine group', name: 'Sales' }]);
    expect(loadScenario({ ...continuation({ export: ['a.json', 'b.csv'] }) }).from).toEqual({ kind: 'export', files: ['a.json', 'b.csv'] });
  });

  it('refuses malformed starting states, and undeclared names without "from"', () => {
    const problems = (json: Json) => (invalid(() => loadScenario(json)).details.problems as { path: string; message: string }[]);
    expect(problems({ ...continuation('database') })).toEqual([{ path: 'from', message: '"database" is not a starting state; expected "store" (continue from the store given with --db) or {"export": ["file.json", ...]}' }]);
    expect(problems({ ...continuation({ export: [] }) })[0]).toMatchObject({ path: 'from.export', message: 'has 0 files; expected 1 to 100 export files' });
    expect(problems({ ...continuation({ files: ['a.json'] }) }).map((p) => p.path)).toEqual(['from.files', 'from.export']);
    const { from: _from, ...plain } = continuation('store');
    expect(problems({ ...plain, actions: [{ at: '2030-07-01T00:00:00Z', do: 'deleteGroup', group: 'Sales' }] }).map((p) => p.path)).toEqual(
      expect.arrayContaining(['actions[0].group']),
    );
  });
});

describe('scenario "from": running it', () => {
  let stored: Awaited<ReturnType<typeof run>>;
  let uninterrupted: Awaited<ReturnType<typeof run>>;
  beforeAll(async () => {
    stored = await run(truncate(fixture, T));
    uninterrupted = await run(fixture);
  });

  it('"from": "store" continues a stored run: the same renewals as the uninterrupted run', async () => {
    const store = createInMemoryEventStore();
    for (const e of await readWholeLog(stored)) await store.append(e.stream, [{ type: e.type, data: e.data, metadata: e.metadata }], e.revision - 1);
    const before = await store.headPosition();
    const continued = await runContinued(loadScenario(continuation('store')), { store, keys });
    expect(continued.appended).toBe((await store.headPosition()) - before);
    expect(await store.verify()).toMatchObject({ ok: true });
    for (const group of ['Sales', 'Lab', 'Ghost', 'Vacant']) {
      const real = await outcome(uninterrupted, group, T);
      const again = await outcome(store, group, T);
      expect(again, group).toEqual(real);
    }
  });

  it('writes what it recorded with the observed thumbprints, never a stand-in\'s', async () => {
    const store = createInMemoryEventStore();
    for (const e of await readWholeLog(stored)) await store.append(e.stream, [{ type: e.type, data: e.data, metadata: e.metadata }], e.revision - 1);
    const head = await store.headPosition();
    const sales = (await queryTable({ store, table: 'flowmachinegroups', filter: "name eq 'Sales'" })).value[0]!;
    await runContinued(loadScenario(continuation('store')), { store, keys });
    const log = await readWholeLog(store);
    const started = log.find((e) => e.position > head && e.type === 'RenewalStarted' && e.data.keyThumbprint === sales.primarypublickey);
    expect(started).toBeDefined();
    const issued = log.find((e) => e.position > head && e.type === 'KeyIssued' && e.stream === started!.stream)!;
    expect((issued.data.wrappedUnderPrevious as Json).thumbprint).toBe(sales.primarypublickey);
  });

  it('"from": {"export": [...]} imports the files (paths beside the scenario) at start and continues', async () => {
    const dir = tempDir();
    const files = await exportTables(stored, dir, 'json');
    const file = writeJson(dir, 'next.json', {
      ...continuation({ export: files.map((f) => f.split('/').pop()) }),
      groups: [{ name: 'Sales', password: 'Sales-Passw0rd' }],
      machines: [{ name: 'SAL-09', group: 'Sales', agentVersion: '2.24.0.0', joinAt: '2030-06-02T00:00:00Z', online: [{ from: '2030-06-02T00:00:00Z', to: '2031-06-01T00:00:00Z' }] }],
      actions: [{ at: '2030-06-03T00:00:00Z', do: 'updateAgent', machine: 'SAL-03', agentVersion: '2.23.116.23040' }],
    });
    const store = createInMemoryEventStore();
    const continued = await runContinued(loadScenario(JSON.parse(readFileSync(file, 'utf8'))), { store, keys, scenarioFile: file });
    expect(continued.result.rejected).toEqual([]);
    // Members the file does not list follow the default habit; SAL-09 joined with the group's password.
    expect(continued.assumed.find((a) => a.machine === 'SAL-02')).toMatchObject({ habit: 'offline' });
    expect(continued.assumed.find((a) => a.machine === 'SAL-01')).toMatchObject({ habit: 'always online' });
    const machines = (await queryTable({ store, table: 'flowmachines', select: 'name,keydeliverystatus' })).value;
    expect(machines.filter((m) => String(m.name).startsWith('SAL')).map((m) => [m.name, m.keydeliverystatus])).toEqual([
      ['SAL-01', 1], ['SAL-02', 3], ['SAL-03', 1], ['SAL-04', 3], ['SAL-05', 3], ['SAL-09', 1],
    ]);
  });

  it('refuses a start before the state, unknown names, and the wrong store', async () => {
    const store = createInMemoryEventStore();
    for (const e of await readWholeLog(stored)) await store.append(e.stream, [{ type: e.type, data: e.data, metadata: e.metadata }], e.revision - 1);
    const early = loadScenario({ ...continuation('store'), start: '2030-01-01T00:00:00Z', machines: [] });
    await expect(runContinued(early, { store, keys })).rejects.toMatchObject({
      code: 'SCENARIO_INVALID',
      details: { problems: [{ path: 'start', message: expect.stringMatching(/^2030-01-01T00:00:00.000Z is before the starting state's latest instant 2030-06-01/) }] },
    });
    const unknown = loadScenario({ ...continuation('store'), actions: [{ at: '2030-07-01T00:00:00Z', do: 'removeMachine', machine: 'NOPE-01' }] });
    await expect(runContinued(unknown, { store, keys })).rejects.toMatchObject({
      details: { problems: [{ path: 'actions[0].machine', message: '"NOPE-01" is neither declared in this scenario nor a machine of the starting state; expected the name of a machine of this scenario or of the starting state' }] },
    });
    await expect(runContinued(loadScenario(continuation('store')), { store: createInMemoryEventStore(), keys })).rejects.toMatchObject({ code: 'STORE_EMPTY' });
    await expect(runContinued(loadScenario(continuation({ export: ['x.json'] })), { store, keys })).rejects.toMatchObject({ code: 'STORE_NOT_EMPTY' });
  });
});
