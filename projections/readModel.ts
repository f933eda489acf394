/**
 * The read model: the projection's rows persisted in SQLite, kept current by a runner that catches up
 * from its checkpoint and then follows the store live (`subscribeAll`). This file is the runner:
 * catch-up, commit, rebuild and live following. The file's layout is readModel/file.ts, reading the
 * tables readModel/rowCopies.ts, snapshots readModel/snapshots.ts, failures readModel/errors.ts.
 *
 * Guarantees:
 * - The rows and the checkpoint (position, hash and instant of the last event they include) are
 *   written in one transaction, so after a crash at any moment the file holds the tables exactly as
 *   of its checkpoint: no event is applied twice or skipped when the runner resumes.
 * - A snapshot of the whole projection state is stored at every multiple of `snapshotEvery`
 *   positions (default 5,000), each in its own transaction with the hash of the event at its
 *   position. Resuming, and every as-of query, replays only from the nearest one. While catching up
 *   (or rebuilding) the rows are written once, at the end, and snapshots run ahead of the
 *   checkpoint; a runner that was killed half-way resumes from its latest snapshot and then rewrites
 *   every row with the checkpoint.
 * - A read model written by another PROJECTION_VERSION, or for another log (the event at its
 *   checkpoint is missing or has another hash), rebuilds itself from position 0 on the next catch-up.
 * - Several processes may share one file (servers on one store, `rekey query` beside a server). They
 *   all fold the same log, so the rows at a checkpoint are the same whoever wrote them, and the
 *   checkpoint only moves forward: a commit that finds the file at or past its own position writes
 *   nothing (the rows there are its rows too); one that is ahead writes the rows it changed since its
 *   own last commit, which covers everything the file lacks. A file reset under it (another
 *   process's `rebuild`) makes its next commit rewrite every row.
 * - Each row records the checkpoint that wrote it, so `rows()` keeps a parsed copy of each table and
 *   brings it up to date by reading only the rows written since it last looked: a read after a write
 *   does not parse every table again.
 * - The file records which log it was built from (hash and append time of the log's first event). If
 *   that log no longer holds the event at the checkpoint, events this file had already applied were
 *   lost (a deleted `-wal` file, a restored backup): LOG_EVENTS_MISSING, and nothing is rebuilt
 *   silently. `rebuild()` (`rekey replay`) accepts the log as it is.
 * - A catch-up far behind a SQLite event store reads the log ahead and stores its snapshots on a
 *   helper thread (readModel/catchUpThread.ts): the file it leaves is the one a single thread leaves.
 * - A live runner that fails (a full disk, an unreadable store) reports it to `onError`, shows it in
 *   `health()`, rejects the waiters with the cause, and starts again at the next `sync()` or
 *   `waitFor()`.
 */
import { existsSync } from 'node:fs';
import type { Subscription } from 'rxjs';
import type { RekeyError } from '../src/kernel/errors.js';
import type { Instant } from '../src/domain/time.js';
import type { EventStore } from '../src/store/port.js';
import { translateSqliteError } from '../src/store/sqliteErrors.js';
import type { FoldedEvent, Projection } from './projection.js';
import { startCatchUpThread, type CatchUpThread } from './readModel/catchUpThread.js';
import { DEFAULT_PAGE_SIZE, type ReplayLimit } from './replay.js';
import type { Row, TableName } from './tables.js';
import { asFailure, eventsMissing } from './readModel/errors.js';
import { defaultReadModelFile, openReadModelFile, originOf, type Checkpoint } from './readModel/file.js';
import { tableReader, type StoredRowInfo } from './readModel/rowCopies.js';
import { snapshotsOf } from './readModel/snapshots.js';

export { LOG_EVENTS_MISSING, READ_MODEL_FAILED } from './readModel/errors.js';
export { READ_MODEL_FILE_VERSION, defaultReadModelFile, originOf, type Checkpoint, type RowRecord } from './readModel/file.js';
export type { StoredRowInfo } from './readModel/rowCopies.js';

/**
 * Positions between snapshots. An as-of query replays half of this on average; 5,000 keeps it under
 * 1% of a full replay on a log of 1,000,000 events (bench/projections.ts).
 */
export const DEFAULT_SNAPSHOT_EVERY = 5_000;

/** Events behind the store from which a catch-up uses a helper thread: below it, starting one costs more than it saves. */
export const DEFAULT_THREAD_FROM = 20_000;

/** The file of a SQLite event store, or null for any other store (or one in memory). */
function sqliteFileOf(store: EventStore): string | null {
  const file = (store as { file?: unknown }).file;
  return store.kind === 'sqlite' && typeof file === 'string' && existsSync(file) ? file : null;
}

export interface ReadModelOptions {
  readonly store: EventStore;
  /**
   * The read model's SQLite file, or ':memory:'. Default: `<events file>.read.db` beside a SQLite
   * event store, ':memory:' for other stores.
   */
  readonly file?: string;
  /** Positions between snapshots (default 5,000). */
  readonly snapshotEvery?: number;
  /** Events read per page while catching up (default 5,000; at most 1,000 on the helper thread). */
  readonly pageSize?: number;
  /**
   * A catch-up at least this many events behind the store reads the log ahead, and stores its
   * snapshots, on a helper thread (readModel/catchUpThread.ts), when the store is a SQLite file and
   * so is the read model. Default 20,000; Infinity keeps every catch-up on one thread.
   */
  readonly threadFrom?: number;
  /** Told when the live runner fails (it starts again at the next sync or waitFor). */
  readonly onError?: (error: RekeyError) => void;
}

export interface ReadModelHealth {
  /** Following the store live. */
  readonly following: boolean;
  /** Why the live runner stopped, while it is stopped by a failure. */
  readonly error: { readonly code: string; readonly message: string } | null;
}

export interface CatchUpProgress {
  /** Position applied so far. */
  readonly position: number;
  /** The store's head when the catch-up began. */
  readonly head: number;
  /** Events applied by this catch-up so far. */
  readonly applied: number;
  readonly elapsedMs: number;
}

/** Called after every page; a returned promise is awaited before the next page is read. */
export type ProgressCallback = (progress: CatchUpProgress) => void | Promise<void>;

export interface CatchUpOptions {
  readonly onProgress?: ProgressCallback;
  /** Stop after the last event that occurred at or before this instant (`rekey replay --until`). */
  readonly until?: Instant;
}

export interface ReadModel {
  readonly store: EventStore;
  readonly file: string;
  readonly snapshotEvery: number;
  /** What the file holds: the tables as of this point. */
  checkpoint(): Checkpoint;
  /** Applies every event after the checkpoint (up to `until`), committing at every snapshot position and at the end. */
  catchUp(options?: CatchUpOptions): Promise<Checkpoint>;
  /** Forgets everything and rebuilds from position 0. */
  rebuild(options?: CatchUpOptions): Promise<Checkpoint>;
  /** Catches up, then follows the store live until `stop()`. */
  start(): Promise<void>;
  stop(): Promise<void>;
  readonly live: boolean;
  /** Resolves once the checkpoint has reached `position` (live mode), or catches up to it. */
  waitFor(position: number): Promise<void>;
  /** Brings the file to the store's current head (catch-up, or wait for the live runner). */
  sync(): Promise<Checkpoint>;
  /** The stored rows of a table (deleted ones excluded), with derived columns evaluated at `at` (default: the checkpoint's instant). */
  rows(table: TableName, at?: Instant | null): Row[];
  /** Rows (deleted ones included) whose id, or else name, is `nameOrId`. */
  findRows(table: TableName, nameOrId: string): StoredRowInfo[];
  /** The projection as of a position or instant, from the nearest snapshot (events after the checkpoint come from the store). */
  projectionAt(limit: ReplayLimit): Promise<Projection>;
  /** Snapshot positions stored, ascending. */
  snapshotPositions(): number[];
  /** Whether the live runner runs, and why not when it failed. */
  health(): ReadModelHealth;
  close(): Promise<void>;
}

export function isReadModel(value: unknown): value is ReadModel {
  return typeof value === 'object' && value !== null && typeof (value as ReadModel).projectionAt === 'function' &&
    typeof (value as ReadModel).catchUp === 'function';
}

export function openReadModel(options: ReadModelOptions): ReadModel {
  const store = options.store;
  const file = options.file ?? defaultReadModelFile(store);
  const snapshotEvery = options.snapshotEvery ?? DEFAULT_SNAPSHOT_EVERY;
  const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
  if (!Number.isSafeInteger(snapshotEvery) || snapshotEvery < 1) throw new RangeError(`snapshotEvery must be a positive integer, got ${snapshotEvery}`);
  const threadFrom = options.threadFrom ?? DEFAULT_THREAD_FROM;
  if (!(threadFrom >= 0)) throw new RangeError(`threadFrom must be a number of events >= 0 (or Infinity), got ${threadFrom}`);
  const eventsFile = sqliteFileOf(store);

  const readModelFile = openReadModelFile(file);
  const { db, sqlite, readCheckpoint, reset, getMeta, setMeta, upsertRow } = readModelFile;
  const tables = tableReader(readModelFile);
  const snapshots = snapshotsOf(readModelFile, store, pageSize);

  /** The file's checkpoint as this process last saw or wrote it. */
  let committed = sqlite(readCheckpoint);
  /** The highest checkpoint this process saw on the file: a file found below it was reset by another. */
  let floor = committed.position;
  /** The projection, at `committed` or ahead of it by events not yet committed; null until needed. */
  let projection: Projection | null = null;
  /** Hash of the event at `projection.position`. */
  let lastHash = committed.hash;
  /** The identity of the log (its first event), once this process has seen it. */
  let origin: string | null = null;
  /** The projection resumed from a snapshot past the checkpoint: its next commit rewrites every row. */
  let rewriteAll = false;
  let closed = false;
  let wantLive = false;
  let subscription: Subscription | null = null;
  let liveError: RekeyError | null = null;
  let flushScheduled = false;
  let busy: Promise<unknown> = Promise.resolve();
  const waiters: { position: number; resolve: () => void; reject: (error: unknown) => void }[] = [];

  /** Writes the projection's changed rows with its checkpoint, unless the file is already there. */
  const commitTx = db.transaction((target: Checkpoint): Checkpoint => {
    const onFile = readCheckpoint();
    if (onFile.position < floor) rewriteAll = true; // reset under us: rows we did not change may be gone
    if (onFile.position >= target.position) return onFile; // another process got there first: its rows are ours
    const all = rewriteAll;
    const rows = projection!.drainDirty(all);
    if (all) db.exec('DELETE FROM rekey_read_rows');
    for (const r of rows) {
      upsertRow.run(r.table, r.id, r.name, r.deleted ? 1 : 0, JSON.stringify(r.row), r.heartbeat ? JSON.stringify(r.heartbeat) : null, JSON.stringify(r.streams), target.position);
    }
    setMeta.run('checkpoint', String(target.position));
    setMeta.run('checkpoint_hash', target.hash);
    setMeta.run('instant', target.instant === null ? '' : String(target.instant));
    if (origin !== null && getMeta.get('origin') === undefined) setMeta.run('origin', origin);
    return target;
  });

  const requireOpen = () => {
    if (closed) throw new Error(`read model ${file} is closed`);
  };

  /** Brings the file to the projection's position (rows and checkpoint in one transaction). */
  const commit = (): void => {
    if (!projection || projection.position <= committed.position) return;
    const target: Checkpoint = { position: projection.position, hash: lastHash, instant: projection.instant };
    let outcome: Checkpoint;
    try {
      outcome = commitTx.immediate(target);
    } catch (error) {
      // The write failed (a full disk, ...): forget this work and resume from the file next time.
      projection = null;
      try {
        committed = readCheckpoint();
      } catch {
        // keep the last known checkpoint
      }
      lastHash = committed.hash;
      throw translateSqliteError(error, file);
    }
    if (outcome === target) rewriteAll = false;
    committed = outcome;
    floor = Math.max(floor, outcome.position);
    for (let i = waiters.length - 1; i >= 0; i--) {
      const waiter = waiters[i]!;
      if (waiter.position <= committed.position) {
        waiters.splice(i, 1);
        waiter.resolve();
      }
    }
  };

  /**
   * The projection to continue from: the one in memory (always a true fold of the log up to its
   * position, even when the file has moved past it), else the one the snapshots give (snapshots.ts).
   */
  const resume = async (): Promise<Projection> => {
    if (projection) return projection;
    const point = await snapshots.resumeFrom(committed);
    lastHash = point.hash;
    rewriteAll = point.rewriteAll;
    point.projection.trackDirty = true;
    projection = point.projection;
    return point.projection;
  };

  /**
   * The checkpoint must name an event of this store. When it does not: a file built from another log
   * starts over from 0; one built from this very log (same first event) has seen events the log lost.
   */
  const checkLogIdentity = async (): Promise<void> => {
    if (committed.position === 0) return;
    const [event] = await store.readAll(committed.position, 1);
    const [first] = await store.readAll(1, 1);
    if (first) origin = originOf(first);
    const recorded = sqlite(() => getMeta.get('origin'));
    if (event && event.position === committed.position && event.hash === committed.hash) {
      if (recorded === undefined && origin !== null) sqlite(() => setMeta.run('origin', origin!));
      return;
    }
    if (recorded !== undefined && (first === undefined || originOf(first) === recorded)) {
      throw eventsMissing(file, committed, event ? null : await store.headPosition());
    }
    sqlite(() => reset.immediate());
    committed = sqlite(readCheckpoint);
    floor = 0;
    lastHash = '';
    projection = null;
  };

  const applyOne = (event: FoldedEvent, thread: CatchUpThread | null = null): void => {
    projection!.apply(event);
    lastHash = event.hash;
    if (event.position === 1) origin = originOf(event);
    if (event.position % snapshotEvery === 0) snapshots.write(projection!, lastHash, thread);
  };

  const catchUpNow = async (options: CatchUpOptions = {}): Promise<Checkpoint> => {
    requireOpen();
    const onFile = sqlite(readCheckpoint);
    if (onFile.position !== committed.position || onFile.hash !== committed.hash) committed = onFile; // another process moved the file
    await checkLogIdentity();
    const current = await resume();
    const head = await store.headPosition();
    const started = performance.now();
    let applied = 0;
    const thread = eventsFile !== null && file !== ':memory:' && head - current.position >= threadFrom
      ? startCatchUpThread({ eventsFile, readModelFile: file, from: current.position + 1, pageSize })
      : null;
    try {
      for (;;) {
        const page: FoldedEvent[] = thread ? await thread.nextPage() : await store.readAll(current.position + 1, pageSize);
        let stop = false;
        for (const event of page) {
          if (options.until !== undefined && Date.parse(event.metadata.occurredAt) > options.until) {
            stop = true;
            break;
          }
          applyOne(event, thread);
          applied++;
        }
        if (options.onProgress && page.length > 0) {
          await options.onProgress({ position: current.position, head, applied, elapsedMs: performance.now() - started });
        }
        if (stop || page.length < (thread ? thread.pageSize : pageSize)) break;
      }
      await thread?.flush(); // every snapshot stored before the rows that follow them are committed
    } catch (error) {
      // Snapshots handed to the helper may not be stored: resume from the file, which writes them again.
      if (thread) projection = null;
      throw error;
    } finally {
      await thread?.close();
    }
    commit();
    return committed;
  };

  /** Runs one catch-up or rebuild at a time. */
  const exclusive = <T>(task: () => Promise<T>): Promise<T> => {
    const run = busy.then(task, task);
    busy = run.catch(() => undefined);
    return run;
  };

  const scheduleFlush = () => {
    if (flushScheduled) return;
    flushScheduled = true;
    setImmediate(() => {
      flushScheduled = false;
      if (closed || !subscription) return;
      try {
        commit();
      } catch (error) {
        failLive(error);
      }
    });
  };

  const failLive = (error: unknown) => {
    const failure = asFailure(file, error);
    liveError = failure;
    subscription?.unsubscribe();
    subscription = null;
    projection = null; // resume from the file: what the live feed applied after the last commit is gone with it
    for (const waiter of waiters.splice(0)) waiter.reject(failure);
    options.onError?.(failure);
  };

  /** A live read model that failed starts again (catch-up, then live) when someone needs it. */
  const recover = async (): Promise<void> => {
    if (!wantLive || subscription || closed) return;
    await exclusive(startLive);
  };

  const model: ReadModel = {
    store,
    file,
    snapshotEvery,

    checkpoint: () => committed,

    catchUp: (options) => exclusive(async () => {
      if (subscription) throw new Error('the read model is following the store live; stop() it before catching up by hand');
      return catchUpNow(options);
    }),

    rebuild: (options) => exclusive(async () => {
      const wasLive = subscription !== null;
      if (wasLive) await stopLive();
      sqlite(() => reset.immediate());
      committed = sqlite(readCheckpoint);
      floor = 0;
      lastHash = '';
      projection = null;
      const checkpoint = await catchUpNow(options);
      if (wasLive) await startLive();
      return checkpoint;
    }),

    start: () => {
      wantLive = true;
      return exclusive(startLive);
    },

    stop: () => {
      wantLive = false;
      return exclusive(stopLive);
    },

    get live() {
      return subscription !== null;
    },

    async waitFor(position: number): Promise<void> {
      requireOpen();
      if (committed.position >= position) return;
      await recover();
      if (!subscription) {
        await model.catchUp();
        if (committed.position < position) throw new Error(`the store ends at position ${committed.position}, before ${position}`);
        return;
      }
      await new Promise<void>((resolve, reject) => waiters.push({ position, resolve, reject }));
    },

    async sync(): Promise<Checkpoint> {
      requireOpen();
      await recover();
      if (subscription) {
        await model.waitFor(await store.headPosition());
        return committed;
      }
      return model.catchUp();
    },

    rows(table: TableName, at?: Instant | null): Row[] {
      requireOpen();
      return tables.rows(table, at);
    },

    findRows(table: TableName, nameOrId: string): StoredRowInfo[] {
      requireOpen();
      return tables.findRows(table, nameOrId, committed.instant);
    },

    async projectionAt(limit: ReplayLimit): Promise<Projection> {
      requireOpen();
      return snapshots.projectionAt(limit);
    },

    snapshotPositions: () => snapshots.positions(),

    health: () => ({
      following: subscription !== null,
      error: liveError === null ? null : { code: liveError.code, message: liveError.message },
    }),

    async close(): Promise<void> {
      if (closed) return;
      wantLive = false;
      await exclusive(stopLive).catch(() => undefined);
      closed = true;
      for (const waiter of waiters.splice(0)) waiter.reject(new Error(`read model ${file} was closed`));
      db.close();
    },
  };

  async function startLive(): Promise<void> {
    if (subscription || closed) return;
    try {
      await catchUpNow();
    } catch (error) {
      const failure = asFailure(file, error);
      liveError = failure;
      throw failure;
    }
    liveError = null;
    const current = projection!;
    subscription = store.subscribeAll(current.position + 1).subscribe({
      next: (event) => {
        try {
          if (!projection || event.position !== projection.position + 1) {
            throw new Error(`read model expected position ${(projection?.position ?? 0) + 1} from the live feed, got ${event.position}`);
          }
          applyOne(event);
          scheduleFlush();
        } catch (error) {
          failLive(error);
        }
      },
      error: (error: unknown) => failLive(error),
    });
  }

  async function stopLive(): Promise<void> {
    if (!subscription) return;
    subscription.unsubscribe();
    subscription = null;
    commit();
  }

  return model;
}
