/**
 * The forecast's promise: simulate a fleet to an instant T, export its tables as Dataverse would
 * show them, import them into an empty store, forecast from T with the same online habits, and the
 * machines forecast to miss each group's next renewal are exactly those that did when the same
 * fleet ran on past T. So are the windows, the groups that expire and the connections to fix.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { forecast, type Forecast } from '../../src/fleet/forecast.js';
import { parseHabits } from '../../src/fleet/habits.js';
import { importFleet, readFleet } from '../../src/fleet/importer.js';
import { parseInstant } from '../../src/domain/time.js';
import { createInMemoryEventStore } from '../../src/store/memory.js';
import type { EventStore } from '../../src/store/port.js';
import { exportTables, habitsOf, keys, outcome, run, tempDir, truncate, type Outcome } from './support.js';

const scenario = JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures', 'roundtrip.json'), 'utf8'));
const T = '2030-06-01T00:00:00.000Z';

describe('round trip: simulate to T, export, import, forecast = what really happened after T', () => {
  let atT: EventStore;
  let imported: EventStore;
  let later: EventStore;
  let viaImport: Forecast;
  let viaLiveStore: Forecast;
  const actual = new Map<string, Outcome | undefined>();

  beforeAll(async () => {
    atT = await run(truncate(scenario, T));
    const dir = tempDir();
    const files = await exportTables(atT, dir, 'json');
    imported = createInMemoryEventStore();
    await importFleet(imported, readFleet(files, { asOf: parseInstant(T) }));
    const habits = parseHabits(habitsOf(scenario));
    viaImport = await forecast(imported, { keys, habits });
    viaLiveStore = await forecast(atT, { keys, habits });
    later = await run(scenario);
    for (const group of ['Sales', 'Lab', 'Ghost', 'Vacant']) actual.set(group, await outcome(later, group, T));
  });

  it('forecasts every group with a key, from T', () => {
    expect(viaImport.from).toBe(T);
    expect(viaImport.groups.map((g) => g.name)).toEqual(['Ghost', 'Lab', 'Sales', 'Vacant']);
  });

  it.each(['Sales', 'Lab', 'Ghost', 'Vacant'])('%s: the machines forecast to miss are exactly those that did', (name) => {
    const group = viaImport.groups.find((g) => g.name === name)!;
    const real = actual.get(name)!;
    expect(real, `${name} renewed after T in the later run`).toBeDefined();
    expect(group.willMiss.map((m) => m.machine).sort()).toEqual(real.missed);
    expect([group.renewalStart, group.renewalEnd]).toEqual([real.start, real.end]);
    expect(group.verdict === 'will expire').toBe(real.expired);
    expect(group.connectionsToFix).toEqual(real.connectionsToFix);
  });

  it('names the reasons: offline, agent below 2.23, group empty', () => {
    const sales = viaImport.groups.find((g) => g.name === 'Sales')!;
    expect(sales.verdict).toBe('at risk');
    expect(sales.willMiss.map((m) => [m.machine, m.code])).toEqual([['SAL-02', 'offline'], ['SAL-03', 'agentOutdated']]);
    expect(sales.willMiss[1]!.reason).toMatch(/2\.22\.0\.0 is below 2\.23/);
    const vacant = viaImport.groups.find((g) => g.name === 'Vacant')!;
    expect(vacant.verdict).toBe('will expire');
    expect(vacant.expiresBecause).toMatch(/^group empty/);
    expect(vacant.todo[0]!.what).toMatch(/^add a machine to Vacant before/);
    const ghost = viaImport.groups.find((g) => g.name === 'Ghost')!;
    expect(ghost.verdict).toBe('will expire');
    expect(ghost.willMiss).toEqual([expect.objectContaining({ machine: 'GHO-01', code: 'offline' })]);
  });

  it('says what to do by when', () => {
    const sales = viaImport.groups.find((g) => g.name === 'Sales')!;
    const todo = sales.todo.map((t) => `${t.by} ${t.what}`).join('\n');
    expect(todo).toMatch(/update Power Automate for desktop to 2\.23 or above on SAL-03 \(2\.22\.0\.0\)/);
    expect(todo).toMatch(new RegExp(`bring SAL-02 online between ${sales.renewalStart} and ${sales.renewalEnd}`));
    expect(todo).toMatch(/run Reports at least once between/);
    expect(todo).toMatch(/regenerate the group password after .* then rejoin SAL-02, SAL-03 with it/);
    expect(sales.todo.map((t) => t.by)).toEqual([...sales.todo.map((t) => t.by)].sort());
  });

  it('gives the same forecast from the live store as from its import', () => {
    const strip = (f: Forecast) => f.groups.map(({ name, renewalStart, renewalEnd, willMiss, connectionsToFix, verdict }) => ({ name, renewalStart, renewalEnd, willMiss: willMiss.map((m) => m.machine), connectionsToFix, verdict }));
    expect(strip(viaLiveStore)).toEqual(strip(viaImport));
  });

  it('without a habits file, falls back to the 10,080-minute default and says so', async () => {
    const fallback = await forecast(imported, { keys });
    const sales = fallback.groups.find((g) => g.name === 'Sales')!;
    // SAL-04 and SAL-05 were silent at T: the default counts them out, although they come back in time.
    expect(sales.willMiss.map((m) => m.machine)).toEqual(['SAL-02', 'SAL-03', 'SAL-04', 'SAL-05']);
    expect(fallback.habits.find((h) => h.machine === 'SAL-04')!.source).toMatch(/^default: lastheartbeatdate 2026-.* is more than 10,080 minutes before/);
    expect(fallback.habits.find((h) => h.machine === 'SAL-01')).toMatchObject({ habit: 'always online' });
  });

  it('a plain Dataverse export (no rekey_ columns, no connections) gives the same misses', async () => {
    const dir = tempDir();
    const [groups, machines] = await exportTables(atT, dir, 'json');
    const plain = JSON.parse(readFileSync(groups!, 'utf8'));
    plain.value = plain.value.map((row: Record<string, unknown>) => Object.fromEntries(Object.entries(row).filter(([key]) => !key.startsWith('rekey_'))));
    writeFileSync(groups!, JSON.stringify(plain));
    const store = createInMemoryEventStore();
    await importFleet(store, readFleet([groups!, machines!], { asOf: parseInstant(T) }));
    const plainForecast = await forecast(store, { keys, habits: parseHabits(habitsOf(scenario)) });
    const view = (f: Forecast) => f.groups.map((g) => [g.name, g.renewalStart, g.renewalEnd, g.willMiss.map((m) => m.machine), g.verdict]);
    expect(view(plainForecast)).toEqual(view(viaImport));
  });

  it('imports the CSV export to the same forecast', async () => {
    const dir = tempDir();
    const files = await exportTables(atT, dir, 'csv');
    const store = createInMemoryEventStore();
    await importFleet(store, readFleet(files, { asOf: parseInstant(T) }));
    const viaCsv = await forecast(store, { keys, habits: parseHabits(habitsOf(scenario)) });
    expect(viaCsv.groups.map((g) => [g.name, g.willMiss.map((m) => m.machine), g.verdict])).toEqual(viaImport.groups.map((g) => [g.name, g.willMiss.map((m) => m.machine), g.verdict]));
  });
});
