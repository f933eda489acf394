/**
 * What the admin sees is what the engine did (issue 14): scenario files, written from the seed and
 * the rules alone, run through the real loader, simulator, engine and agents, then read back from
 * the tables (`rekey query`'s projection) at chosen instants. Each test is named after its rule.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { tablesAt, type Row } from '../../projections/index.js';
import { pooledKeyPairSource } from '../../src/crypto/index.js';
import { parseInstant, plusMinutes, toIso } from '../../src/domain/time.js';
import { loadScenario } from '../../src/simulation/loader.js';
import { simulate, type SimulationResult } from '../../src/simulation/simulator.js';
import { createInMemoryEventStore, type InMemoryEventStore } from '../../src/store/memory.js';
import type { RecordedEvent } from '../../src/store/port.js';

const keys = pooledKeyPairSource({ size: 4, recycle: true });
const iso = (text: string) => toIso(parseInstant(text));
const minutesAfter = (text: string, minutes: number) => toIso(plusMinutes(parseInstant(text), minutes));

interface Run {
  readonly result: SimulationResult;
  readonly events: RecordedEvent[];
  rows(table: 'flowmachinegroups' | 'flowmachines' | 'desktopflowconnections', asOf: string): Promise<Row[]>;
  row(table: 'flowmachinegroups' | 'flowmachines' | 'desktopflowconnections', name: string, asOf: string): Promise<Row>;
}

async function run(file: unknown): Promise<Run> {
  const store: InMemoryEventStore = createInMemoryEventStore();
  const result = await simulate(loadScenario(file), { store, keys });
  const events = await store.readAll(1, 1_000_000);
  const rows = async (table: 'flowmachinegroups' | 'flowmachines' | 'desktopflowconnections', asOf: string) =>
    (await tablesAt(store, { asOf: parseInstant(asOf) })).tables[table];
  return {
    result,
    events,
    rows,
    async row(table, name, asOf) {
      const found = (await rows(table, asOf)).find((r) => r.name === name);
      if (!found) throw new Error(`no ${table} row named ${name} as of ${asOf}`);
      return found;
    },
  };
}

const online = (from: string, to: string) => [{ from, to }];

describe('what the admin sees is what the engine did', () => {
  beforeAll(() => keys.ready(), 60_000);

  it('R19: actions on a deleted group are refused GROUP_DELETED, and fixing its connection says the group was deleted', async () => {
    const { result } = await run({
      start: '2026-01-01T00:00:00Z',
      end: '2026-03-01T00:00:00Z',
      groups: [{ name: 'Finance', password: 'Fin-Passw0rd' }],
      machines: [{ name: 'FIN-01', group: 'Finance', agentVersion: '2.23.116.23040', joinAt: '2026-01-01T00:00:00Z', online: online('2026-01-01T00:00:00Z', '2026-03-01T00:00:00Z') }],
      connections: [{ name: 'Invoices', group: 'Finance', createAt: '2026-01-02T00:00:00Z', username: 'CONTOSO\\svc', password: 'cred-pw' }],
      actions: [
        { at: '2026-02-01T00:00:00Z', do: 'deleteGroup', group: 'Finance' },
        { at: '2026-02-02T00:00:00Z', do: 'setKeyValidityPeriod', group: 'Finance', minutes: 525_600 },
        { at: '2026-02-02T00:00:00Z', do: 'setKeyExpiryGracePeriod', group: 'Finance', minutes: 64_800 },
        { at: '2026-02-02T00:00:00Z', do: 'setProactiveReencryption', group: 'Finance', enabled: true },
        { at: '2026-02-02T00:00:00Z', do: 'deleteGroup', group: 'Finance' },
        { at: '2026-02-03T00:00:00Z', do: 'fixConnection', connection: 'Invoices', password: 'new-cred-pw' },
      ],
    });
    const refused = result.rejected.map((r) => ({ command: r.command, code: r.code }));
    expect(refused).toEqual([
      { command: 'setKeyValidityPeriod', code: 'GROUP_DELETED' },
      { command: 'setKeyExpiryGracePeriod', code: 'GROUP_DELETED' },
      { command: 'setProactiveReencryption', code: 'GROUP_DELETED' },
      { command: 'deleteGroup', code: 'GROUP_DELETED' },
      { command: 'fixConnection', code: 'TARGET_HAS_NO_LIVE_KEY' },
    ]);
    for (const r of result.rejected.slice(0, 4)) expect(r.message).toBe('machine group Finance was deleted; create a new group');
    const fix = result.rejected[4]!.message;
    expect(fix).toContain('group Finance has no live key');
    expect(fix).toContain('machine group Finance was deleted, which invalidated its keys (R19)');
    expect(fix).not.toContain('no machine joined it yet');
    expect(fix).not.toContain('new-cred-pw');
  });
});
