/**
 * The read model: the projection's rows persisted in SQLite, kept current by a runner that catches up
 * from its checkpoint and then follows the store live (`subscribeAll`).
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
 * - Only one writer at a time makes progress: a commit whose checkpoint moved under it (another
 *   process caught the same file up) discards its work and resumes from the file.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import type { Subscription } from 'rxjs';
import { toIso, type Instant } from '../src/domain/time.js';
import type { EventStore, RecordedEvent } from '../src/store/port.js';
import { heartbeatAt, type HeartbeatBasis } from './heartbeat.js';
import { byNameThenId, Projection, PROJECTION_VERSION, type PersistedRow } from './projection.js';
import { DEFAULT_PAGE_SIZE, replayInto, type ReplayLimit } from './replay.js';
import { ID_COLUMN, type Row, type TableName } from './tables.js';

/**
 * Positions between snapshots. An as-of query replays half of this on average; 5,000 keeps it under
 * 1% of a full replay on a log of 1,000,000 events (bench/projections.ts).
 */
export const DEFAULT_SNAPSHOT_EVERY = 5_000;

export interface ReadModelOptions {
  readonly store: EventStore;
  /**
   * The read model's SQLite file, or ':memory:'. Default: `<events file>.read.db` beside a SQLite
   * event store, ':memory:' for other stores.
   */
  readonly file?: string;
  /** Positions between snapshots (default 5,000). */
  readonly snapshotEvery?: number;
  /** Events read per page while catching up (default 5,000). */
  readonly pageSize?: number;
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

export interface Checkpoint {
  readonly position: number;
  readonly hash: string;
  /** The latest occurredAt applied: the instant the head tables are rendered at. */
  readonly instant: Instant | null;
}

export interface StoredRowInfo {
  readonly table: TableName;
  readonly id: string;
  readonly name: string;
  readonly deleted: boolean;
  readonly streams: readonly string[];
  readonly row: Row;
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
  close(): Promise<void>;
}

/** `<events file>.read.db` beside a SQLite event store; ':memory:' otherwise. */
export function defaultReadModelFile(store: EventStore): string {
  const file = (store as { file?: unknown }).file;
  return store.kind === 'sqlite' && typeof file === 'string' ? `${file}.read.db` : ':memory:';
}

export function isReadModel(value: unknown): value is ReadModel {
  return typeof value === 'object' && value !== null && typeof (value as ReadModel).projectionAt === 'function' &&
    typeof (value as ReadModel).catchUp === 'function';
}

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS rekey_read_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS rekey_read_rows (
    tbl       TEXT NOT NULL,
    id        TEXT NOT NULL,
    name      TEXT NOT NULL,
    deleted   INTEGER NOT NULL,
    row       TEXT NOT NULL,
    heartbeat TEXT,
    streams   TEXT NOT NULL,
    PRIMARY KEY (tbl, id)
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS rekey_read_rows_name ON rekey_read_rows (tbl, name);
  CREATE TABLE IF NOT EXISTS rekey_read_snapshots (
    position INTEGER PRIMARY KEY,
    instant  INTEGER,
    hash     TEXT NOT NULL,
    state    TEXT NOT NULL
  );
  CREATE INDEX IF NOT EXISTS rekey_read_snapshots_instant ON rekey_read_snapshots (instant, position);
`;

interface RowRecord {
  tbl: string;
  id: string;
  name: string;
  deleted: number;
  row: string;
  heartbeat: string | null;
  streams: string;
}

interface SnapshotRecord {
  position: number;
  hash: string;
  state: string;
}

class CheckpointMoved extends Error {}

export function openReadModel(options: ReadModelOptions): ReadModel {
  const store = options.store;
  const file = options.file ?? defaultReadModelFile(store);
  const snapshotEvery = options.snapshotEvery ?? DEFAULT_SNAPSHOT_EVERY;
  const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
  if (!Number.isSafeInteger(snapshotEvery) || snapshotEvery < 1) throw new RangeError(`snapshotEvery must be a positive integer, got ${snapshotEvery}`);

  if (file !== ':memory:') mkdirSync(dirname(resolve(file)), { recursive: true });
  const db = new Database(file === ':memory:' ? ':memory:' : resolve(file), { timeout: 10_000 });
  if (file !== ':memory:') db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  // A file written by another projection version is rebuilt from scratch, schema included.
  const version = (() => {
    try {
      return db.prepare<[], string>("SELECT value FROM rekey_read_meta WHERE key = 'version'").pluck().get();
    } catch {
      return undefined;
    }
  })();
  if (version !== String(PROJECTION_VERSION)) {
    db.exec('DROP TABLE IF EXISTS rekey_read_rows; DROP TABLE IF EXISTS rekey_read_snapshots; DROP TABLE IF EXISTS rekey_read_meta;');
  }
  db.exec(SCHEMA);

  const getMeta = db.prepare<[string], string>('SELECT value FROM rekey_read_meta WHERE key = ?').pluck();
  const setMeta = db.prepare<[string, string]>('INSERT INTO rekey_read_meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value');
  const upsertRow = db.prepare<[string, string, string, number, string, string | null, string]>(
    `INSERT INTO rekey_read_rows (tbl, id, name, deleted, row, heartbeat, streams) VALUES (?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT(tbl, id) DO UPDATE SET name = excluded.name, deleted = excluded.deleted, row = excluded.row,
       heartbeat = excluded.heartbeat, streams = excluded.streams`,
  );
  const insertSnapshot = db.prepare<[number, number | null, string, string]>('INSERT OR REPLACE INTO rekey_read_snapshots (position, instant, hash, state) VALUES (?, ?, ?, ?)');
  const latestSnapshot = db.prepare<[], SnapshotRecord>('SELECT position, hash, state FROM rekey_read_snapshots ORDER BY position DESC LIMIT 1');
  const snapshotAtPosition = db.prepare<[number], SnapshotRecord>(
    'SELECT position, hash, state FROM rekey_read_snapshots WHERE position <= ? ORDER BY position DESC LIMIT 1',
  );
  const snapshotAtInstant = db.prepare<[number], SnapshotRecord>(
    // A snapshot's instant is the latest occurredAt up to its position, so it never decreases with the position.
    'SELECT position, hash, state FROM rekey_read_snapshots WHERE instant IS NOT NULL AND instant <= ? ORDER BY instant DESC, position DESC LIMIT 1',
  );
  const deleteSnapshotsAfter = db.prepare<[number]>('DELETE FROM rekey_read_snapshots WHERE position > ?');
  const rowsOfTable = db.prepare<[string], RowRecord>('SELECT * FROM rekey_read_rows WHERE tbl = ? AND deleted = 0');
  const rowsById = db.prepare<[string, string], RowRecord>('SELECT * FROM rekey_read_rows WHERE tbl = ? AND id = ?');
  const rowsByName = db.prepare<[string, string], RowRecord>('SELECT * FROM rekey_read_rows WHERE tbl = ? AND name = ?');
  const rowsByNameNoCase = db.prepare<[string, string], RowRecord>('SELECT * FROM rekey_read_rows WHERE tbl = ? AND name = ? COLLATE NOCASE');
  const snapshotList = db.prepare<[], number>('SELECT position FROM rekey_read_snapshots ORDER BY position').pluck();

  const readCheckpoint = (): Checkpoint => {
    const instant = getMeta.get('instant');
    return {
      position: Number(getMeta.get('checkpoint') ?? 0),
      hash: getMeta.get('checkpoint_hash') ?? '',
      instant: instant === undefined || instant === '' ? null : Number(instant),
    };
  };

  const reset = db.transaction(() => {
    db.exec('DELETE FROM rekey_read_rows; DELETE FROM rekey_read_snapshots;');
    setMeta.run('version', String(PROJECTION_VERSION));
    setMeta.run('checkpoint', '0');
    setMeta.run('checkpoint_hash', '');
    setMeta.run('instant', '');
  });
  if (getMeta.get('version') === undefined) reset.immediate();

  /** What the file's rows hold. */
  let committed = readCheckpoint();
  /** The projection, at `committed` or ahead of it by events not yet committed; null until needed. */
  let projection: Projection | null = null;
  /** Hash of the event at `projection.position`. */
  let lastHash = committed.hash;
  /** The projection resumed from a snapshot past the checkpoint: its next commit rewrites every row. */
  let rewriteAll = false;
  let closed = false;
  let subscription: Subscription | null = null;
  let liveError: unknown = null;
  let flushScheduled = false;
  let busy: Promise<unknown> = Promise.resolve();
  const waiters: { position: number; resolve: () => void; reject: (error: unknown) => void }[] = [];

  const commitTx = db.transaction((rows: PersistedRow[], all: boolean, checkpoint: Checkpoint, expected: number) => {
    if (Number(getMeta.get('checkpoint') ?? 0) !== expected) throw new CheckpointMoved();
    if (all) db.exec('DELETE FROM rekey_read_rows');
    for (const r of rows) {
      upsertRow.run(r.table, r.id, r.name, r.deleted ? 1 : 0, JSON.stringify(r.row), r.heartbeat ? JSON.stringify(r.heartbeat) : null, JSON.stringify(r.streams));
    }
    setMeta.run('checkpoint', String(checkpoint.position));
    setMeta.run('checkpoint_hash', checkpoint.hash);
    setMeta.run('instant', checkpoint.instant === null ? '' : String(checkpoint.instant));
  });

  const requireOpen = () => {
    if (closed) throw new Error(`read model ${file} is closed`);
  };

  /** Writes the rows the projection changed since the last commit, with the checkpoint, in one transaction. */
  const commit = (): void => {
    if (!projection || projection.position === committed.position) return;
    const checkpoint: Checkpoint = { position: projection.position, hash: lastHash, instant: projection.instant };
    try {
      commitTx.immediate(projection.drainDirty(rewriteAll), rewriteAll, checkpoint, committed.position);
    } catch (error) {
      // Another writer advanced the file (or the write failed): forget this work, resume from the file.
      projection = null;
      committed = readCheckpoint();
      lastHash = committed.hash;
      throw error;
    }
    committed = checkpoint;
    rewriteAll = false;
    for (let i = waiters.length - 1; i >= 0; i--) {
      const waiter = waiters[i]!;
      if (waiter.position <= committed.position) {
        waiters.splice(i, 1);
        waiter.resolve();
      }
    }
  };

  const writeSnapshot = (): void => {
    insertSnapshot.run(projection!.position, projection!.instant, lastHash, projection!.serialize());
  };

  /** Whether a stored snapshot belongs to this store's log (the event at its position has its hash). */
  const snapshotMatches = async (snap: SnapshotRecord): Promise<boolean> => {
    const [event] = await store.readAll(snap.position, 1);
    return event !== undefined && event.position === snap.position && event.hash === snap.hash;
  };

  /**
   * The projection to continue from: the one in memory, else the latest snapshot if it is at or past
   * the checkpoint (every row is rewritten at the next commit), else the nearest snapshot before the
   * checkpoint replayed up to it without writing.
   */
  const resume = async (): Promise<Projection> => {
    if (projection && projection.position >= committed.position) return projection;
    projection = null;
    let latest = latestSnapshot.get();
    if (latest && latest.position > committed.position && !(await snapshotMatches(latest))) {
      deleteSnapshotsAfter.run(committed.position); // written for another log
      latest = latestSnapshot.get();
    }
    let restored: Projection;
    if (latest && latest.position >= committed.position) {
      restored = Projection.restore(latest.state);
      lastHash = latest.hash;
      rewriteAll = latest.position > committed.position;
    } else {
      restored = latest ? Projection.restore(latest.state) : new Projection();
      await replayInto(store, restored, { position: committed.position }, { pageSize });
      if (restored.position !== committed.position) {
        throw new Error(`read model ${file} is at position ${committed.position}, but the store ends at ${restored.position}`);
      }
      lastHash = committed.hash;
      rewriteAll = false;
    }
    restored.trackDirty = true;
    projection = restored;
    return restored;
  };

  /** Rebuilds from 0 when the checkpoint no longer names an event of this store. */
  const checkLogIdentity = async (): Promise<void> => {
    if (committed.position === 0) return;
    const [event] = await store.readAll(committed.position, 1);
    if (!event || event.position !== committed.position || event.hash !== committed.hash) {
      reset.immediate();
      committed = readCheckpoint();
      lastHash = '';
      projection = null;
    }
  };

  const applyOne = (event: RecordedEvent): void => {
    projection!.apply(event);
    lastHash = event.hash;
    if (event.position % snapshotEvery === 0) writeSnapshot();
  };

  const catchUpOnce = async (options: CatchUpOptions): Promise<Checkpoint> => {
    requireOpen();
    const onFile = readCheckpoint();
    if (onFile.position !== committed.position || onFile.hash !== committed.hash) {
      committed = onFile; // another process moved the file on
      projection = null;
    }
    await checkLogIdentity();
    const current = await resume();
    const head = await store.headPosition();
    const started = performance.now();
    let applied = 0;
    for (;;) {
      const page = await store.readAll(current.position + 1, pageSize);
      let stop = false;
      for (const event of page) {
        if (options.until !== undefined && Date.parse(event.metadata.occurredAt) > options.until) {
          stop = true;
          break;
        }
        applyOne(event);
        applied++;
      }
      if (options.onProgress && page.length > 0) {
        await options.onProgress({ position: current.position, head, applied, elapsedMs: performance.now() - started });
      }
      if (stop || page.length < pageSize) break;
    }
    commit();
    return committed;
  };

  /** A catch-up that another process overtook (its commit found the checkpoint moved) starts again from the file. */
  const catchUpNow = async (options: CatchUpOptions = {}): Promise<Checkpoint> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await catchUpOnce(options);
      } catch (error) {
        if (!(error instanceof CheckpointMoved) || attempt >= 5) throw error;
      }
    }
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
      if (closed) return;
      try {
        commit();
      } catch (error) {
        failLive(error);
      }
    });
  };

  const failLive = (error: unknown) => {
    liveError = error;
    subscription?.unsubscribe();
    subscription = null;
    for (const waiter of waiters.splice(0)) waiter.reject(error);
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
      reset.immediate();
      committed = readCheckpoint();
      lastHash = '';
      projection = null;
      const checkpoint = await catchUpNow(options);
      if (wasLive) await startLive();
      return checkpoint;
    }),

    start: () => exclusive(startLive),

    stop: () => exclusive(stopLive),

    get live() {
      return subscription !== null;
    },

    async waitFor(position: number): Promise<void> {
      requireOpen();
      if (committed.position >= position) return;
      if (!subscription) {
        if (liveError) throw liveError;
        await model.catchUp();
        if (committed.position < position) throw new Error(`the store ends at position ${committed.position}, before ${position}`);
        return;
      }
      await new Promise<void>((resolve, reject) => waiters.push({ position, resolve, reject }));
    },

    async sync(): Promise<Checkpoint> {
      requireOpen();
      if (subscription) {
        await model.waitFor(await store.headPosition());
        return committed;
      }
      return model.catchUp();
    },

    rows(table: TableName, at?: Instant | null): Row[] {
      requireOpen();
      const instant = at ?? committed.instant;
      const rows = rowsOfTable.all(table).map((record) => toRow(record, instant));
      const idColumn = ID_COLUMN[table];
      return rows.sort((a, b) => byNameThenId(a, b, idColumn));
    },

    findRows(table: TableName, nameOrId: string): StoredRowInfo[] {
      requireOpen();
      let records = rowsById.all(table, nameOrId);
      if (records.length === 0) records = rowsByName.all(table, nameOrId);
      if (records.length === 0) records = rowsByNameNoCase.all(table, nameOrId);
      return records.map((record) => ({
        table,
        id: record.id,
        name: record.name,
        deleted: record.deleted === 1,
        streams: JSON.parse(record.streams) as string[],
        row: toRow(record, committed.instant),
      }));
    },

    async projectionAt(limit: ReplayLimit): Promise<Projection> {
      requireOpen();
      const snap = limit.position !== undefined
        ? snapshotAtPosition.get(limit.position)
        : limit.instant !== undefined ? snapshotAtInstant.get(limit.instant) : undefined;
      const restored = snap && (await snapshotMatches(snap)) ? Projection.restore(snap.state) : new Projection();
      await replayInto(store, restored, limit, { pageSize });
      return restored;
    },

    snapshotPositions: () => snapshotList.all(),

    async close(): Promise<void> {
      if (closed) return;
      await exclusive(stopLive).catch(() => undefined);
      closed = true;
      for (const waiter of waiters.splice(0)) waiter.reject(new Error(`read model ${file} was closed`));
      db.close();
    },
  };

  async function startLive(): Promise<void> {
    if (subscription) return;
    liveError = null;
    await catchUpNow();
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

function toRow(record: RowRecord, at: Instant | null): Row {
  const row = JSON.parse(record.row) as Row;
  if (record.heartbeat !== null && at !== null) {
    const beat = heartbeatAt(JSON.parse(record.heartbeat) as HeartbeatBasis, at);
    row.lastheartbeatdate = beat === null ? null : toIso(beat);
  }
  return row;
}
