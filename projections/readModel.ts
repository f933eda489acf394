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
 * - A live runner that fails (a full disk, an unreadable store) reports it to `onError`, shows it in
 *   `health()`, rejects the waiters with the cause, and starts again at the next `sync()` or
 *   `waitFor()`.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import type { Subscription } from 'rxjs';
import { RekeyError, errorKind, isRekeyError } from '../src/kernel/errors.js';
import { toIso, type Instant } from '../src/domain/time.js';
import type { EventStore, RecordedEvent } from '../src/store/port.js';
import { translateSqliteError } from '../src/store/sqliteErrors.js';
import { heartbeatAt, type HeartbeatBasis } from './heartbeat.js';
import { byNameThenId, Projection, PROJECTION_VERSION, type PersistedRow } from './projection.js';
import { DEFAULT_PAGE_SIZE, replayInto, type ReplayLimit } from './replay.js';
import { ID_COLUMN, type Row, type TableName } from './tables.js';

/** The log no longer holds events that the read model had applied: acknowledged events were lost. */
export const LOG_EVENTS_MISSING = errorKind('LOG_EVENTS_MISSING', 'integrity');
/** The live read model stopped following the log for a reason that is not a store error of its own. */
export const READ_MODEL_FAILED = errorKind('READ_MODEL_FAILED', 'internal');

/** The file's layout beside the projection's version: 2 added the checkpoint each row was written at. */
const FILE_LAYOUT = 2;
/** What a read model file's `version` meta row says when this code wrote it. */
export const READ_MODEL_FILE_VERSION = `${PROJECTION_VERSION}.${FILE_LAYOUT}`;
const FILE_VERSION = READ_MODEL_FILE_VERSION;

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
  /** Whether the live runner runs, and why not when it failed. */
  health(): ReadModelHealth;
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
    written   INTEGER NOT NULL,
    PRIMARY KEY (tbl, id)
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS rekey_read_rows_name ON rekey_read_rows (tbl, name);
  CREATE INDEX IF NOT EXISTS rekey_read_rows_written ON rekey_read_rows (tbl, written);
  CREATE TABLE IF NOT EXISTS rekey_read_snapshots (
    position INTEGER PRIMARY KEY,
    instant  INTEGER,
    hash     TEXT NOT NULL,
    state    TEXT NOT NULL
  );
  CREATE INDEX IF NOT EXISTS rekey_read_snapshots_instant ON rekey_read_snapshots (instant, position);
`;

/** A row of the file's `rekey_read_rows` table, as SQLite returns it. */
export interface RowRecord {
  tbl: string;
  id: string;
  name: string;
  deleted: number;
  row: string;
  heartbeat: string | null;
  streams: string;
  written: number;
}

interface SnapshotRecord {
  position: number;
  hash: string;
  state: string;
}

/** A table's rows as this process last read them from the file, parsed once. */
interface TableCopy {
  generation: string;
  /** The checkpoint the copy reflects. */
  checkpoint: Checkpoint;
  readonly byId: Map<string, CachedRow>;
  /** Live rows by name then id; null when it must be sorted again. */
  sorted: CachedRow[] | null;
  /** The rows rendered at one instant (machines: lastheartbeatdate), until the copy changes. */
  rendered: { readonly instant: Instant | null; readonly rows: readonly Row[] } | null;
}

interface CachedRow {
  readonly id: string;
  readonly name: string;
  readonly row: Row;
  readonly heartbeat: HeartbeatBasis | null;
}

/** Which log a file was built from: its first event's hash and append time. */
export function originOf(event: RecordedEvent): string {
  return `${event.hash}@${event.recordedAt}`;
}

export function openReadModel(options: ReadModelOptions): ReadModel {
  const store = options.store;
  const file = options.file ?? defaultReadModelFile(store);
  const snapshotEvery = options.snapshotEvery ?? DEFAULT_SNAPSHOT_EVERY;
  const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
  if (!Number.isSafeInteger(snapshotEvery) || snapshotEvery < 1) throw new RangeError(`snapshotEvery must be a positive integer, got ${snapshotEvery}`);

  const sqlite = <T>(fn: () => T): T => {
    try {
      return fn();
    } catch (error) {
      throw translateSqliteError(error, file);
    }
  };

  if (file !== ':memory:') mkdirSync(dirname(resolve(file)), { recursive: true });
  const db = sqlite(() => new Database(file === ':memory:' ? ':memory:' : resolve(file), { timeout: 10_000 }));
  sqlite(() => {
    if (file !== ':memory:') db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    // A file written by another projection version (or layout) is rebuilt from scratch, schema included.
    const version = (() => {
      try {
        return db.prepare<[], string>("SELECT value FROM rekey_read_meta WHERE key = 'version'").pluck().get();
      } catch {
        return undefined;
      }
    })();
    if (version !== FILE_VERSION) {
      db.exec('DROP TABLE IF EXISTS rekey_read_rows; DROP TABLE IF EXISTS rekey_read_snapshots; DROP TABLE IF EXISTS rekey_read_meta;');
    }
    db.exec(SCHEMA);
  });

  const getMeta = db.prepare<[string], string>('SELECT value FROM rekey_read_meta WHERE key = ?').pluck();
  const setMeta = db.prepare<[string, string]>('INSERT INTO rekey_read_meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value');
  const deleteMeta = db.prepare<[string]>('DELETE FROM rekey_read_meta WHERE key = ?');
  const upsertRow = db.prepare<[string, string, string, number, string, string | null, string, number]>(
    `INSERT INTO rekey_read_rows (tbl, id, name, deleted, row, heartbeat, streams, written) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT(tbl, id) DO UPDATE SET name = excluded.name, deleted = excluded.deleted, row = excluded.row,
       heartbeat = excluded.heartbeat, streams = excluded.streams, written = excluded.written`,
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
  const rowsWrittenAfter = db.prepare<[string, number], RowRecord>('SELECT * FROM rekey_read_rows WHERE tbl = ? AND written > ?');
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
    setMeta.run('version', FILE_VERSION);
    setMeta.run('checkpoint', '0');
    setMeta.run('checkpoint_hash', '');
    setMeta.run('instant', '');
    setMeta.run('generation', String(Number(getMeta.get('generation') ?? 0) + 1));
    deleteMeta.run('origin');
  });
  if (sqlite(() => getMeta.get('version')) === undefined) sqlite(() => reset.immediate());

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
  const copies = new Map<TableName, TableCopy>();

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

  const writeSnapshot = (): void => {
    sqlite(() => insertSnapshot.run(projection!.position, projection!.instant, lastHash, projection!.serialize()));
  };

  /** Whether a stored snapshot belongs to this store's log (the event at its position has its hash). */
  const snapshotMatches = async (snap: SnapshotRecord): Promise<boolean> => {
    const [event] = await store.readAll(snap.position, 1);
    return event !== undefined && event.position === snap.position && event.hash === snap.hash;
  };

  /**
   * The projection to continue from: the one in memory (always a true fold of the log up to its
   * position, even when the file has moved past it), else the latest snapshot if it is at or past the
   * checkpoint (every row is rewritten at the next commit), else the nearest snapshot before the
   * checkpoint replayed up to it without writing.
   */
  const resume = async (): Promise<Projection> => {
    if (projection) return projection;
    let latest = sqlite(() => latestSnapshot.get());
    if (latest && latest.position > committed.position && !(await snapshotMatches(latest))) {
      sqlite(() => deleteSnapshotsAfter.run(committed.position)); // written for another log
      latest = sqlite(() => latestSnapshot.get());
    }
    let restored: Projection;
    if (latest && latest.position >= committed.position) {
      restored = Projection.restore(latest.state);
      lastHash = latest.hash;
      rewriteAll = latest.position > committed.position;
    } else {
      restored = latest ? Projection.restore(latest.state) : new Projection();
      await replayInto(store, restored, { position: committed.position }, { pageSize });
      if (restored.position !== committed.position) throw eventsMissing(restored.position);
      lastHash = committed.hash;
      rewriteAll = false;
    }
    restored.trackDirty = true;
    projection = restored;
    return restored;
  };

  const eventsMissing = (logEnd: number | null): RekeyError => {
    const where = logEnd === null
      ? `holds another event at position ${committed.position}`
      : `ends at position ${logEnd}`;
    return new RekeyError(
      LOG_EVENTS_MISSING,
      `the read model ${file} holds the tables up to position ${committed.position} (event hash ${committed.hash}) of this log, ` +
        `but the event store now ${where}: events that were acknowledged are missing from the log (a lost -wal file, or a restored backup?). ` +
        'Nothing was changed. Run rekey verify to see what the log holds; rekey replay rebuilds the tables from the log as it is, if the loss is accepted',
      { file, checkpoint: committed.position, logEnd },
    );
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
      throw eventsMissing(event ? null : await store.headPosition());
    }
    sqlite(() => reset.immediate());
    committed = sqlite(readCheckpoint);
    floor = 0;
    lastHash = '';
    projection = null;
  };

  const applyOne = (event: RecordedEvent): void => {
    projection!.apply(event);
    lastHash = event.hash;
    if (event.position === 1) origin = originOf(event);
    if (event.position % snapshotEvery === 0) writeSnapshot();
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

  /** A failure as the callers see it: store errors keep their code, anything else is READ_MODEL_FAILED naming the cause. */
  const asFailure = (error: unknown): RekeyError => {
    if (isRekeyError(error)) return error;
    const translated = translateSqliteError(error, file);
    if (isRekeyError(translated)) return translated;
    const message = error instanceof Error ? error.message || error.name : String(error);
    return new RekeyError(READ_MODEL_FAILED, `the read model ${file} stopped following the event store: ${message}`, { file });
  };

  const failLive = (error: unknown) => {
    const failure = asFailure(error);
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

  /** The table as the file holds it now, from this process's copy plus the rows written since. */
  const readCopy = db.transaction((table: TableName, copy: TableCopy | undefined) => {
    const checkpoint = readCheckpoint();
    const generation = getMeta.get('generation') ?? '0';
    const full = !copy || copy.generation !== generation || checkpoint.position < copy.checkpoint.position;
    const records = full ? rowsOfTable.all(table) : checkpoint.position === copy.checkpoint.position ? [] : rowsWrittenAfter.all(table, copy.checkpoint.position);
    return { checkpoint, generation, full, records };
  });

  const tableCopy = (table: TableName): TableCopy => {
    const found = copies.get(table);
    const { checkpoint, generation, full, records } = sqlite(() => readCopy.deferred(table, found));
    let copy = found;
    if (full || !copy) {
      copy = { generation, checkpoint, byId: new Map(), sorted: null, rendered: null };
      copies.set(table, copy);
    }
    copy.checkpoint = checkpoint;
    if (records.length === 0 && !full) return copy;
    for (const record of records) {
      const before = copy.byId.get(record.id);
      if (record.deleted === 1) {
        if (before) {
          copy.byId.delete(record.id);
          copy.sorted = null;
        }
        continue;
      }
      const cached: CachedRow = {
        id: record.id,
        name: record.name,
        row: Object.freeze(JSON.parse(record.row) as Row),
        heartbeat: record.heartbeat === null ? null : (JSON.parse(record.heartbeat) as HeartbeatBasis),
      };
      copy.byId.set(record.id, cached);
      if (!before || before.name !== cached.name) copy.sorted = null;
      else if (copy.sorted) copy.sorted[copy.sorted.indexOf(before)] = cached;
    }
    copy.rendered = null;
    return copy;
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
      const copy = tableCopy(table);
      const instant = at === undefined || at === null ? copy.checkpoint.instant : at;
      if (copy.rendered && copy.rendered.instant === instant) return [...copy.rendered.rows];
      if (!copy.sorted) {
        const idColumn = ID_COLUMN[table];
        copy.sorted = [...copy.byId.values()].sort((a, b) => {
          if (a.name !== b.name) return a.name < b.name ? -1 : 1;
          const i = String(a.row[idColumn]);
          const j = String(b.row[idColumn]);
          return i < j ? -1 : i > j ? 1 : 0;
        });
      }
      const rows = copy.sorted.map((cached) => renderAt(cached, instant));
      copy.rendered = { instant, rows };
      return [...rows];
    },

    findRows(table: TableName, nameOrId: string): StoredRowInfo[] {
      requireOpen();
      let records = sqlite(() => rowsById.all(table, nameOrId));
      if (records.length === 0) records = sqlite(() => rowsByName.all(table, nameOrId));
      if (records.length === 0) records = sqlite(() => rowsByNameNoCase.all(table, nameOrId));
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
        ? sqlite(() => snapshotAtPosition.get(limit.position!))
        : limit.instant !== undefined ? sqlite(() => snapshotAtInstant.get(limit.instant!)) : undefined;
      const restored = snap && (await snapshotMatches(snap)) ? Projection.restore(snap.state) : new Projection();
      await replayInto(store, restored, limit, { pageSize });
      return restored;
    },

    snapshotPositions: () => sqlite(() => snapshotList.all()),

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
      const failure = asFailure(error);
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

/** A stored row with its derived columns at `at` (machines: lastheartbeatdate, R21). */
function renderAt(cached: CachedRow, at: Instant | null): Row {
  if (cached.heartbeat === null || at === null) return cached.row;
  const beat = heartbeatAt(cached.heartbeat, at);
  return Object.freeze({ ...cached.row, lastheartbeatdate: beat === null ? null : toIso(beat) });
}

function toRow(record: RowRecord, at: Instant | null): Row {
  const row = JSON.parse(record.row) as Row;
  if (record.heartbeat !== null && at !== null) {
    const beat = heartbeatAt(JSON.parse(record.heartbeat) as HeartbeatBasis, at);
    row.lastheartbeatdate = beat === null ? null : toIso(beat);
  }
  return row;
}
