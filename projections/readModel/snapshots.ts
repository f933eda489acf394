/**
 * Snapshots of the whole projection state in the read model file, each with the hash of the event
 * at its position: resuming, and every as-of query, replays only from the nearest one instead of
 * from position 0. A snapshot is used only while the event at its position still has its hash, so
 * a snapshot written for another log never leaks into this one.
 */
import type { EventStore } from '../../src/store/port.js';
import { Projection } from '../projection.js';
import { replayInto, type ReplayLimit } from '../replay.js';
import type { CatchUpThread } from './catchUpThread.js';
import { eventsMissing } from './errors.js';
import type { Checkpoint, ReadModelFile, SnapshotRecord } from './file.js';

/** Where a runner continues from: a projection, the hash of the event at its position, and whether its next commit rewrites every row. */
export interface ResumePoint {
  readonly projection: Projection;
  readonly hash: string;
  readonly rewriteAll: boolean;
}

export interface Snapshots {
  /** Stores the projection's state at its position; `hash` is the event's there. With `thread`, the helper stores it. */
  write(projection: Projection, hash: string, thread?: CatchUpThread | null): void;
  /**
   * The latest snapshot if it is at or past the checkpoint (every row is rewritten at the next
   * commit), else the nearest snapshot before the checkpoint replayed up to it without writing.
   */
  resumeFrom(committed: Checkpoint): Promise<ResumePoint>;
  /** The projection as of a position or instant, from the nearest snapshot. */
  projectionAt(limit: ReplayLimit): Promise<Projection>;
  /** Snapshot positions stored, ascending. */
  positions(): number[];
}

export function snapshotsOf(
  { file, sqlite, insertSnapshot, latestSnapshot, snapshotAtPosition, snapshotAtInstant, deleteSnapshotsAfter, snapshotList }: ReadModelFile,
  store: EventStore,
  pageSize: number,
): Snapshots {
  /** Whether a stored snapshot belongs to this store's log (the event at its position has its hash). */
  const snapshotMatches = async (snap: SnapshotRecord): Promise<boolean> => {
    const [event] = await store.readAll(snap.position, 1);
    return event !== undefined && event.position === snap.position && event.hash === snap.hash;
  };

  return {
    write(projection: Projection, hash: string, thread?: CatchUpThread | null): void {
      const state = projection.serialize();
      if (thread) thread.writeSnapshot(projection.position, projection.instant, hash, state);
      else sqlite(() => insertSnapshot.run(projection.position, projection.instant, hash, state));
    },

    async resumeFrom(committed: Checkpoint): Promise<ResumePoint> {
      let latest = sqlite(() => latestSnapshot.get());
      if (latest && latest.position > committed.position && !(await snapshotMatches(latest))) {
        sqlite(() => deleteSnapshotsAfter.run(committed.position)); // written for another log
        latest = sqlite(() => latestSnapshot.get());
      }
      if (latest && latest.position >= committed.position) {
        return { projection: Projection.restore(latest.state), hash: latest.hash, rewriteAll: latest.position > committed.position };
      }
      const restored = latest ? Projection.restore(latest.state) : new Projection();
      await replayInto(store, restored, { position: committed.position }, { pageSize });
      if (restored.position !== committed.position) throw eventsMissing(file, committed, restored.position);
      return { projection: restored, hash: committed.hash, rewriteAll: false };
    },

    async projectionAt(limit: ReplayLimit): Promise<Projection> {
      const snap = limit.position !== undefined
        ? sqlite(() => snapshotAtPosition.get(limit.position!))
        : limit.instant !== undefined ? sqlite(() => snapshotAtInstant.get(limit.instant!)) : undefined;
      const restored = snap && (await snapshotMatches(snap)) ? Projection.restore(snap.state) : new Projection();
      await replayInto(store, restored, limit, { pageSize });
      return restored;
    },

    positions: () => sqlite(() => snapshotList.all()),
  };
}
