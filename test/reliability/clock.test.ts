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
import type { EventStore } from '../../src/store/port.js';
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

  /**
   * Two engine processes on one SQLite file. `slow` decides at its instant; before its append lands,
   * `fast` (whose clock is 10 minutes ahead) appends to the same group. The conflict makes `slow`
   * catch up and decide again: with its clock still behind what `fast` appended it is refused
   * CLOCK_WENT_BACKWARDS (nothing appended); with a clock that moved on meanwhile it records the
   * later instant, never the one it first decided with (docs/reliability.md, finding 2).
   */
  it('a conflict retry decides again at an instant not older than what another process appended meanwhile', async () => {
    const { file, store, latest } = await world();
    await store.close();
    const shared = openSqliteEventStore({ file });
    const fastClock = manualClock(plusMinutes(latest, 10));
    const fast = await Engine.open({ store: shared, clock: fastClock, ids: seededIds(31) });
    const slowStore = openSqliteEventStore({ file });
    let interpose: (() => Promise<void>) | null = null;
    const interposing: EventStore = Object.assign(Object.create(slowStore) as EventStore, {
      async append(...args: Parameters<EventStore['append']>) {
        const before = interpose;
        interpose = null;
        if (before) await before(); // the other process gets its append in first
        return slowStore.append(...args);
      },
    });
    const slowClock = manualClock(latest);
    const slow = await Engine.open({ store: interposing, clock: slowClock, ids: seededIds(32) });
    try {
      interpose = async () => { await fast.setKeyValidityPeriod('A', 2_200_000); };
      const before = await shared.headPosition();
      const error = await slow.setKeyValidityPeriod('A', 2_300_000).then(() => null, (caught: unknown) => caught);
      expect(interpose, 'the other process appended in between').toBeNull();
      expect(isRekeyError(error, 'CLOCK_WENT_BACKWARDS'), String(error)).toBe(true);
      expect((error as Error).message).toContain(toIso(latest));
      expect((error as Error).message).toContain(toIso(plusMinutes(latest, 10)));
      expect(await shared.headPosition(), 'only the other process appended').toBe(before + 1);
      expect(slow.group('A').recorded.validity).toBe(2_200_000);

      // The same race once slow's clock caught up, and with it moving on to 20 minutes while the
      // conflict is handled: the retry records 20 minutes, not the 10 it first decided with.
      slowClock.set(plusMinutes(latest, 10));
      interpose = async () => {
        fastClock.set(plusMinutes(latest, 15));
        await fast.setKeyValidityPeriod('A', 2_400_000);
        slowClock.set(plusMinutes(latest, 20));
      };
      const recorded = await slow.setKeyValidityPeriod('A', 2_500_000);
      expect(recorded.map((e) => [e.type, e.metadata.occurredAt])).toEqual([['KeyValidityPeriodChanged', toIso(plusMinutes(latest, 20))]]);
      const instants = (await shared.readAll(1, 1000)).map((e) => Date.parse(e.metadata.occurredAt));
      expect(instants).toEqual([...instants].sort((a, b) => a - b));
    } finally {
      await shared.close();
      await slowStore.close();
    }
  });
});
