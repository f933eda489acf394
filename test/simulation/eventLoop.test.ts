/**
 * A simulation lets the event loop run while it works. Its awaits are on a synchronous store and
 * on keys made ahead, so without turns of its own nothing else would run until it ended: not the
 * key workers' answers (and so their next keys), not a progress timer, not a signal handler.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { pooledKeyPairSource } from '../../src/crypto/index.js';
import { loadScenarioFile } from '../../src/simulation/loader.js';
import { simulate } from '../../src/simulation/simulator.js';
import { openSqliteEventStore } from '../../src/store/sqlite.js';

const dir = mkdtempSync(join(tmpdir(), 'rekey-event-loop-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the simulator and the event loop', () => {
  it('runs timers while it simulates, at least every few tens of milliseconds', async () => {
    const keys = pooledKeyPairSource({ size: 4, recycle: true });
    await keys.ready(); // every draw is then answered at once: no wait for a key yields either
    const store = openSqliteEventStore({ file: join(dir, 'loop.db') });
    const ticks: number[] = [];
    const timer = setInterval(() => ticks.push(performance.now()), 1);
    const started = performance.now();
    let ended = started;
    try {
      const result = await simulate(loadScenarioFile('examples/healthy-fleet.json'), { store, keys });
      ended = performance.now();
      expect(result.rejected).toEqual([]);
    } finally {
      clearInterval(timer);
      await store.close();
    }
    const wall = ended - started;
    expect(wall).toBeGreaterThan(200); // long enough for the gaps below to mean something
    const points = [started, ...ticks.filter((at) => at <= ended), ended];
    const longestGap = Math.max(...points.slice(1).map((at, i) => at - points[i]!));
    expect(longestGap, `longest stretch without a timer: ${Math.round(longestGap)} ms of ${Math.round(wall)} ms`).toBeLessThan(Math.max(100, wall / 4));
  }, 60_000);
});
