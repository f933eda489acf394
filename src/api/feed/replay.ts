/**
 * Following the change feed from any cursor: from the shared hub when its buffer still covers the
 * cursor (the usual case: a new client, or one that reconnects after a short drop), otherwise by
 * replaying the log from the cursor with a projection of its own, then handing over to the hub as
 * soon as the hub covers the position reached, so no client keeps a projection for long.
 *
 * A replay reads the log a page at a time and waits, after each event, until the client has taken
 * what was sent (`listener.drained`): a client far behind costs one page of memory, not the log.
 * Replays are expensive (a copy of the tables each), so at most `maxReplays` run at once; others wait
 * their turn. Whatever the path, the listener gets every change after the cursor exactly once, in log
 * order.
 */
import type { ReadModel } from '../../../projections/index.js';
import { isAfter, type Cursor } from './cursor.js';
import { indexedChanges, type ChangeHub, type ChangeListener } from './hub.js';

export interface ReplayListener extends ChangeListener {
  /** Resolves once the client can take more (a replay waits for it after each event). */
  drained?(): Promise<void> | undefined;
}

export interface FeedFollower {
  /** Starts following; the returned function stops it, whatever phase it is in. */
  follow(cursor: Cursor, listener: ReplayListener): Promise<() => void>;
}

const PAGE = 200;

export function feedFollower(readModel: ReadModel, hub: ChangeHub, options: { maxReplays?: number } = {}): FeedFollower {
  const maxReplays = options.maxReplays ?? 4;
  let running = 0;
  const waiting: (() => void)[] = [];
  const acquire = () => (running < maxReplays ? (running++, Promise.resolve()) : new Promise<void>((resolve) => waiting.push(resolve)));
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else running--;
  };

  async function replay(cursor: Cursor, listener: ReplayListener, state: { stopped: boolean; detach: (() => void) | null }): Promise<void> {
    await acquire();
    try {
      if (state.stopped) return;
      // The projection just before the first change the client lacks.
      const projection = await readModel.projectionAt({ position: cursor.index === Infinity ? cursor.position : cursor.position - 1 });
      let reached: Cursor = cursor;
      while (!state.stopped && !hub.covers(reached)) {
        const events = await readModel.store.readAll(projection.position + 1, PAGE);
        if (events.length === 0) {
          await new Promise((resolve) => setTimeout(resolve, 50)); // the hub is about to reach the head
          continue;
        }
        for (const event of events) {
          if (state.stopped) return;
          for (const change of indexedChanges(projection, event)) {
            if (isAfter(reached, change.change.position, change.index)) listener.next(change);
          }
          reached = { position: event.position, index: Infinity };
          await listener.drained?.();
          if (hub.covers(reached)) break;
        }
      }
      if (state.stopped) return;
      state.detach = hub.attach(reached, listener);
      if (!state.detach) throw new Error(`the change feed lost its place at position ${reached.position}`);
    } finally {
      release();
    }
  }

  return {
    async follow(cursor, listener) {
      await hub.start();
      const direct = hub.attach(cursor, listener);
      if (direct) return direct;
      const state = { stopped: false, detach: null as (() => void) | null };
      replay(cursor, listener, state).catch((error: unknown) => {
        if (!state.stopped) listener.error(error);
      });
      return () => {
        state.stopped = true;
        state.detach?.();
      };
    },
  };
}
