/**
 * Admin commands on a store this process opens itself. The clock is the wall clock, but never
 * behind the log (after a simulation that ended in 2038, commands happen at its end: time in the log
 * only moves forward). A dry run, `tables`, `explain` and `plan` only ever read the store (a dry
 * run's appends go to its overlay): after them the file is byte for byte what it was (a SQLite
 * connection that only reads leaves no -wal or -shm behind, where a read-only one would).
 *
 * Several commands in one call (`group set --validity --grace`) are first dry-run together: when the
 * rules refuse one, none is recorded.
 */
import { tablesAt } from '../../projections/index.js';
import { Engine } from '../engine/engine.js';
import { randomIds } from '../engine/ids.js';
import { explain } from '../explain/explain.js';
import { makePlan } from '../plan/plan.js';
import type { EventStore, RecordedEvent } from '../store/port.js';
import { executeAdminCommand, type AdminCommand } from './commands.js';
import { dryRun } from './dryRun.js';
import { eventView } from './eventView.js';
import type { AdminResult, AdminTarget, RunOptions } from './target.js';

export function localTarget(open: (mode: { readOnly: boolean }) => Promise<EventStore>, description: string): AdminTarget {
  const opened: EventStore[] = [];
  const store = async (readOnly: boolean) => {
    const s = await open({ readOnly });
    opened.push(s);
    return s;
  };
  return {
    description,
    async run(commands: readonly AdminCommand[], options: RunOptions) {
      if (options.dryRun) return withClock(await store(true), (s, clock) => dryRun(s, commands, { clock, forecast: options.forecast }));
      const s = await store(false);
      if (commands.length > 1) await withClock(s, (_, clock) => dryRun(s, commands, { clock, forecast: false }));
      return withClock(s, async (_, clock): Promise<AdminResult> => {
        const engine = await Engine.open({ store: s, clock, ids: randomIds() });
        const recorded: RecordedEvent[] = [];
        for (const command of commands) {
          const before = await s.headPosition();
          await executeAdminCommand(engine, command, { credential: options.credential });
          // Due times recorded on the way, and connections reconciled, count too: read what was appended.
          recorded.push(...(await s.readAll(before + 1, (await s.headPosition()) - before)));
        }
        return { dryRun: false, commands: [...commands], events: recorded.map(eventView), position: await s.headPosition() };
      });
    },
    async tables(asOf?: number) {
      return tablesAt(await store(true), asOf === undefined ? {} : { asOf });
    },
    async explain(table: string, name: string, asOf?: number) {
      return explain(await store(true), table, name, asOf);
    },
    async plan(asOf?: number) {
      return makePlan(await store(true), asOf);
    },
    async close() {
      for (const s of opened.splice(0)) await s.close();
    },
  };
}

/**
 * The commands' clock: the wall clock, never behind the last event of the log (time in the log only
 * moves forward; after a simulation that ended in 2038, commands happen at its end).
 */
async function withClock<T>(store: EventStore, use: (store: EventStore, clock: { now(): number }) => Promise<T>): Promise<T> {
  const head = await store.headPosition();
  const [last] = head === 0 ? [] : await store.readAll(head, 1);
  const latest = last ? Date.parse(last.metadata.occurredAt) : -Infinity;
  return use(store, { now: () => Math.max(Date.now(), latest) });
}
