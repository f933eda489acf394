/**
 * Following the change feed from any cursor: from the shared hub when its buffer still covers the
 * cursor (the usual case: a new client, or one that reconnects after a short drop), otherwise by
 * replaying the log from the cursor with a projection of its own, then handing over to the hub as
 * soon as the hub covers the position reached, so no client keeps a projection for long.
 *
 * Replays are expensive (a copy of the tables each), so at most `maxReplays` run at once; others wait
 * their turn. Whatever the path, the listener gets every change after the cursor exactly once, in log
 * order.
 */
import type { Subscription } from 'rxjs';
import type { ReadModel } from '../../../projections/index.js';
import { isAfter, type Cursor } from './cursor.js';
import { indexedChanges, type ChangeHub, type ChangeListener } from './hub.js';

export interface FeedFollower {
  /** Starts following; the returned function stops it, whatever phase it is in. */
  follow(cursor: Cursor, listener: ChangeListener): Promise<() => void>;
}

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

  return {
    async follow(cursor, listener) {
      await hub.start();
      const direct = hub.attach(cursor, listener);
      if (direct) return direct;

      let stopped = false;
      let detach: (() => void) | null = null;
      let subscription: Subscription | null = null;
      let holding = false;
      const letGo = () => {
        if (holding) {
          holding = false;
          release();
        }
      };
      const stop = () => {
        stopped = true;
        subscription?.unsubscribe();
        detach?.();
        letGo();
      };

      void (async () => {
        await acquire();
        holding = true;
        if (stopped) return letGo();
        // The projection just before the first change the client lacks.
        const projection = await readModel.projectionAt({ position: cursor.index === Infinity ? cursor.position : cursor.position - 1 });
        if (stopped) return letGo();
        let reached: Cursor = cursor;
        let handedOver = false;
        const handOver = () => {
          handedOver = true;
          subscription?.unsubscribe();
          letGo();
          detach = hub.attach(reached, listener);
          if (!detach) listener.error(new Error(`the change feed lost its place at position ${reached.position}`));
        };
        subscription = readModel.store.subscribeAll(projection.position + 1).subscribe({
          next: (event) => {
            if (stopped || handedOver) return;
            try {
              for (const change of indexedChanges(projection, event)) {
                if (isAfter(reached, change.change.position, change.index)) listener.next(change);
              }
            } catch (error) {
              stop();
              listener.error(error);
              return;
            }
            reached = { position: event.position, index: Infinity };
            if (hub.covers(reached)) handOver();
          },
          error: (error: unknown) => {
            stop();
            listener.error(error);
          },
        });
        if (handedOver || stopped) subscription.unsubscribe(); // the store delivered synchronously up to the hub
      })().catch((error: unknown) => {
        stop();
        listener.error(error);
      });
      return stop;
    },
  };
}
