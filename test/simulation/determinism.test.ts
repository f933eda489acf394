/**
 * Same scenario and seed: the same sequence of event types and instants and the same stateHash,
 * although every key is fresh and random; and the same hash again from a replay of the log into
 * another store (docs/scenarios.md, Output and reproducibility).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tablesAt } from '../../projections/index.js';
import { pooledKeyPairSource } from '../../src/crypto/index.js';
import { loadScenarioFile } from '../../src/simulation/loader.js';
import { simulate } from '../../src/simulation/simulator.js';
import { stableLabels, stateHash } from '../../src/simulation/stateHash.js';
import { summarize, type SimulationReport } from '../../src/simulation/summary.js';
import { createInMemoryEventStore } from '../../src/store/memory.js';
import type { EventStore, RecordedEvent } from '../../src/store/port.js';
import { openSqliteEventStore } from '../../src/store/sqlite.js';

const keys = pooledKeyPairSource({ size: 4 });
const scenario = loadScenarioFile('examples/branch-office-offline.json');

async function run(store: EventStore): Promise<{ report: SimulationReport; events: RecordedEvent[] }> {
  const result = await simulate(scenario, { store, keys });
  return { report: await summarize(scenario, result), events: await store.readAll(1, 1_000_000) };
}

describe('determinism of simulations', () => {
  let first: Awaited<ReturnType<typeof run>>;
  let second: Awaited<ReturnType<typeof run>>;
  beforeAll(async () => {
    first = await run(createInMemoryEventStore());
    second = await run(openSqliteEventStore({ file: join(mkdtempSync(join(tmpdir(), 'rekey-det-')), 'r.db') }));
  }, 120_000);

  it('two runs of the same scenario and seed record the same event types at the same instants', () => {
    const shape = (events: RecordedEvent[]) => events.map((e) => `${e.metadata.occurredAt} ${e.type}`);
    expect(shape(second.events)).toEqual(shape(first.events));
    expect(first.events.length).toBeGreaterThan(100);
  });

  it('their keys differ, yet the stateHash is the same', () => {
    const thumbprints = (events: RecordedEvent[]) => events.filter((e) => e.type === 'KeyIssued').map((e) => e.data.thumbprint);
    expect(thumbprints(second.events)).not.toEqual(thumbprints(first.events));
    expect(second.report.stateHash).toBe(first.report.stateHash);
    expect(first.report.stateHash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('a replay of the log into another store gives the same stateHash', async () => {
    const copy = createInMemoryEventStore();
    for (const event of first.events) {
      await copy.append(event.stream, [{ type: event.type, data: event.data, metadata: event.metadata }], event.revision - 1);
    }
    const { tables } = await tablesAt(copy, { asOf: scenario.end });
    expect(stateHash(tables, await stableLabels(copy))).toBe(first.report.stateHash);
  });

  it('the hash changes when the outcome changes', async () => {
    const { tables } = await tablesAt(createInMemoryEventStore(), {});
    expect(stateHash(tables, new Map())).not.toBe(first.report.stateHash);
    const { tables: midway } = await tablesAt((await (async () => {
      const copy = createInMemoryEventStore();
      for (const event of first.events.slice(0, 100)) await copy.append(event.stream, [event], event.revision - 1);
      return copy;
    })()), { asOf: scenario.end });
    expect(stateHash(midway, await stableLabels(createInMemoryEventStore()))).not.toBe(first.report.stateHash);
  });
});
