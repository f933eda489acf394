/**
 * One fold of the log for every change-feed client of a server. It starts (on the first client) from
 * the read model's projection at the head, follows the store live, numbers each event's row changes
 * (src/api/feed/cursor.ts) and keeps the last `bufferSize` of them, so that a client that connects or
 * reconnects anywhere inside that window costs no more than a listener: no projection of its own.
 * Clients further behind replay from the log first (src/api/feed/replay.ts) and then join here.
 *
 * Listeners are called synchronously, in log order, exactly once per change after their cursor.
 */
import type { Subscription } from 'rxjs';
import { Projection, type ReadModel, type RowChange } from '../../../projections/index.js';
import type { RecordedEvent } from '../../store/port.js';
import { isAfter, type Cursor } from './cursor.js';

export interface IndexedChange {
  readonly change: RowChange;
  readonly index: number;
  /** `P-I` (cursor.ts). */
  readonly id: string;
}

export interface ChangeListener {
  next(change: IndexedChange): void;
  error(error: unknown): void;
}

/** Every row change an event makes, numbered in the order the projection makes them. */
export function indexedChanges(projection: Projection, event: RecordedEvent): IndexedChange[] {
  const changes: RowChange[] = [];
  projection.apply(event, (change) => changes.push(change));
  return changes.map((change, index) => ({ change, index, id: `${change.position}-${index}` }));
}

export interface ChangeHub {
  /** Starts the fold (once); resolves when `attach` can be called. */
  start(): Promise<void>;
  /** The last position folded (after `start`). */
  readonly position: number;
  /** Whether every change after the cursor is still in the buffer or yet to come. */
  covers(cursor: Cursor): boolean;
  /** Sends the buffered changes after the cursor, then every new one; null when the buffer no longer covers it. */
  attach(cursor: Cursor, listener: ChangeListener): (() => void) | null;
  close(): void;
}

export function changeHub(readModel: ReadModel, options: { bufferSize?: number } = {}): ChangeHub {
  const bufferSize = options.bufferSize ?? 10_000;
  const buffer: IndexedChange[] = [];
  const listeners = new Set<ChangeListener>();
  let projection: Projection | null = null;
  /** Every change at a position >= coveredFrom is in the buffer (or still to come). */
  let coveredFrom = Infinity;
  let subscription: Subscription | null = null;
  let starting: Promise<void> | null = null;
  let failure: unknown = null;

  const fail = (error: unknown) => {
    failure = error;
    for (const listener of [...listeners]) listener.error(error);
    listeners.clear();
  };

  const fold = (event: RecordedEvent) => {
    if (failure !== null) return;
    let changes: IndexedChange[];
    try {
      changes = indexedChanges(projection!, event);
    } catch (error) {
      fail(error);
      return;
    }
    buffer.push(...changes);
    if (buffer.length > bufferSize) {
      const dropped = buffer.splice(0, buffer.length - bufferSize);
      coveredFrom = dropped.at(-1)!.change.position + 1;
    }
    for (const change of changes) for (const listener of [...listeners]) listener.next(change);
  };

  const hub: ChangeHub = {
    start() {
      starting ??= (async () => {
        const head = await readModel.store.headPosition();
        projection = await readModel.projectionAt({ position: head });
        coveredFrom = projection.position + 1;
        subscription = readModel.store.subscribeAll(projection.position + 1).subscribe({ next: fold, error: fail });
      })();
      starting.catch(() => {
        starting = null; // a store that failed once may answer the next client
      });
      return starting;
    },
    get position() {
      return projection?.position ?? 0;
    },
    covers(cursor) {
      return projection !== null && cursor.position >= coveredFrom - 1;
    },
    attach(cursor, listener) {
      if (failure !== null) throw failure;
      if (!hub.covers(cursor)) return null;
      for (const change of buffer) if (isAfter(cursor, change.change.position, change.index)) listener.next(change);
      // The buffered replay above is synchronous, so nothing folded in between is missed.
      let last: Cursor = cursor;
      const guarded: ChangeListener = {
        next(change) {
          if (!isAfter(last, change.change.position, change.index)) return;
          last = { position: change.change.position, index: change.index };
          listener.next(change);
        },
        error: (error) => listener.error(error),
      };
      const tail = buffer.at(-1);
      if (tail && isAfter(last, tail.change.position, tail.index)) last = { position: tail.change.position, index: tail.index };
      listeners.add(guarded);
      return () => listeners.delete(guarded);
    },
    close() {
      subscription?.unsubscribe();
      listeners.clear();
    },
  };
  return hub;
}

