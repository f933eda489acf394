/**
 * Time faults (issue 6): the engine takes time from an injected clock, and the log's `occurredAt`
 * must never go back (as-of reads stop at the first event after the instant asked for). A clock that
 * jumps backwards (NTP step, a restored VM snapshot, a mis-set host, a restart on another machine)
 * must be detected and reported, not silently recorded: the command is refused with
 * CLOCK_WENT_BACKWARDS, the message names the clock's instant and the log's latest one, and nothing
 * is appended.
 *
 * The engine implements CLOCK_WENT_BACKWARDS (requireClockNotBehindLog in src/engine/engine.ts); these
 * tests were written before it, as its specification (docs/reliability.md, finding 2).
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { pooledKeyPairSource } from '../../src/crypto/index.js';
import { isRekeyError } from '../../src/kernel/errors.js';
import { manualClock, plusMinutes, toIso } from '../../src/domain/time.js';
import { MachineAgent } from '../../src/engine/agent.js';
import { Engine } from '../../src/engine/engine.js';
import { seededIds } from '../../src/engine/ids.js';
import { createConnection } from '../../src/engine/portal.js';
import { openSqliteEventStore } from '../../src/store/sqlite.js';
import { T0 } from './support/crashPlan.js';
import { removeScratchDirs, scratchDir } from './support/scratch.js';

const keys = pooledKeyPairSource({ size: 2, recycle: true });

async function world() {
  const file = join(scratchDir('clock'), 'rekey.db');
  const store = openSqliteEventStore({ file });
  const clock = manualClock(T0);
  const engine = await Engine.open({ store, clock, ids: seededIds(21) });
  await engine.createGroup({ name: 'A' });
  await new MachineAgent({ engine, machineId: 'm-A1', name: 'A1', agentVersion: '2.23.116.23040', keys }).join('A', 'pw-A');
  clock.set(plusMinutes(T0, 1440));
  await engine.setKeyExpiryGracePeriod('A', 100_000);
  const latest = clock.now();
  return { file, store, clock, engine, latest };
}

async function expectClockWentBackwards(store: { headPosition(): Promise<number> }, command: () => Promise<unknown>, earlier: number, latest: number) {
  const before = await store.headPosition();
  const error = await command().then(() => null, (caught: unknown) => caught);
  expect(await store.headPosition(), 'nothing appended').toBe(before);
  expect(isRekeyError(error, 'CLOCK_WENT_BACKWARDS'), String(error)).toBe(true);
  const message = (error as Error).message;
  expect(message).toContain(toIso(earlier));
  expect(message).toContain(toIso(latest));
}

afterAll(removeScratchDirs);

describe('time faults: a clock that jumps backwards', () => {
  it('a clock that stands still or moves forward is accepted (events at the same instant are normal)', async () => {
    const { store, clock, engine, latest } = await world();
    try {
      await engine.setKeyValidityPeriod('A', 2_000_000);
      clock.set(plusMinutes(latest, 1));
      await engine.setKeyValidityPeriod('A', 2_100_000);
      const events = await store.readAll(1, 100);
      const instants = events.map((e) => e.metadata.occurredAt);
      expect(instants).toEqual([...instants].sort());
    } finally {
      await store.close();
    }
  });

  it('engine commands given a clock earlier than the latest occurredAt in the log are refused with CLOCK_WENT_BACKWARDS naming both instants; nothing is appended', async () => {
    const { store, clock, engine, latest } = await world();
    try {
      for (const back of [1, 60, 1440 * 365]) {
        const earlier = plusMinutes(latest, -back);
        clock.set(earlier);
        await expectClockWentBackwards(store, () => engine.setKeyValidityPeriod('A', 2_000_000), earlier, latest);
        await expectClockWentBackwards(store, () => engine.createGroup({ name: 'B' }), earlier, latest);
        await expectClockWentBackwards(store, () => engine.disconnectMachine('A', 'A1'), earlier, latest);
        await expectClockWentBackwards(store, () => createConnection(engine, 'C', { type: 'group', name: 'A' }, { username: 'svc', password: 'secret' }), earlier, latest);
        await expectClockWentBackwards(store, () => new MachineAgent({ engine, machineId: 'm-A2', name: 'A2', agentVersion: '2.23.116.23040', keys }).join('A', 'pw-A'), earlier, latest);
      }
      // Once the clock is back at (or past) the log's latest instant, commands are accepted again.
      clock.set(latest);
      await expect(engine.setKeyValidityPeriod('A', 2_000_000)).resolves.toHaveLength(1);
    } finally {
      await store.close();
    }
  });

  it('an engine reopened on a log with a clock behind it refuses commands with CLOCK_WENT_BACKWARDS', async () => {
    const { file, store, latest } = await world();
    await store.close();
    const reopened = openSqliteEventStore({ file });
    try {
      const earlier = plusMinutes(latest, -1440);
      const engine = await Engine.open({ store: reopened, clock: manualClock(earlier), ids: seededIds(22) });
      await expectClockWentBackwards(reopened, () => engine.setKeyValidityPeriod('A', 2_000_000), earlier, latest);
      await expectClockWentBackwards(reopened, () => engine.processDue().then(() => engine.createGroup({ name: 'B' })), earlier, latest);
    } finally {
      await reopened.close();
    }
  });
});
