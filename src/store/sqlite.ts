/**
 * The embedded default event store: one SQLite file through better-sqlite3 (docs/architecture.md).
 *
 * - Every append runs its expected-revision check, the read of the previous head hash, the hashing
 *   and the inserts inside one `BEGIN IMMEDIATE` transaction: the write lock is taken before the
 *   check, so several processes (or several stores in one process) on the same file never interleave.
 *   UNIQUE(stream, revision) is the backstop. `busy_timeout` makes a contending writer wait for the
 *   lock instead of failing at once.
 * - `data` and `metadata` are stored as canonical JSON (see `hashChain.ts`), so verification hashes
 *   the stored text directly and any edited byte shows.
 * - `subscribeAll` catches up from the table in pages, then receives this process's appends at once
 *   and polls (`PRAGMA data_version`, which changes only when another connection commits) for
 *   appends by other processes.
 * - The file carries a `rekey_schema` table (one row per applied schema version) so later versions
 *   can migrate it; a file that is not a rekey store fails to open with `STORE_CORRUPT`.
 */
import { setImmediate } from 'node:timers/promises';
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import type { Observable } from 'rxjs';
import { RekeyError } from '../kernel/errors.js';
import {
  STORE_NOT_FOUND, STORE_READONLY, STORE_SCHEMA_UNSUPPORTED, storeClosed, storeCorrupt,
  WrongExpectedRevisionError,
} from './errors.js';
import {
  eventHashFromJson, GENESIS_HASH, verifyChain,
  type StoredChainLink, type VerifyChainOptions, type VerifyResult,
} from './hashChain.js';
import type { AppendResult, EventMetadata, EventStore, ExpectedRevision, NewEvent, RecordedEvent, StreamBatch } from './port.js';
import { isSqliteError, translateSqliteError } from './sqliteErrors.js';
import { SubscriptionHub } from './subscription.js';
import { checkAppend, checkBatches, checkIndex, checkStream, expectedMatches, readAllArguments, readStreamArguments, serializeEvents, type SerializedEvent } from './validation.js';

/** The schema this code writes and reads. Bump it with a migration step in `migrate`. */
export const SQLITE_SCHEMA_VERSION = 1;

export interface SqliteEventStoreOptions {
  /** Path of the database file; missing parent directories are created (unless read-only). */
  file: string;
  /** Open read-only: the file must exist, `append` fails with STORE_READONLY. */
  readonly?: boolean;
  /** Source of `recordedAt` (default: the system clock). */
  wallClock?: () => Date;
  /** How often live subscriptions look for events appended by other processes (default 200 ms). */
  pollIntervalMs?: number;
  /** How long a writer waits for another process's write lock before STORE_BUSY (default 10 s). */
  busyTimeoutMs?: number;
  /**
   * SQLite `synchronous` (default NORMAL). In WAL mode NORMAL never corrupts the file and never
   * loses a commit when the process crashes; only an OS crash or power loss can roll back the last
   * few commits, because the WAL is fsynced at checkpoints rather than at every commit. FULL fsyncs
   * every commit (one disk flush per command, about two orders of magnitude slower on these
   * machines), which simulations appending hundreds of thousands of events cannot afford; a
   * deployment that must survive power loss without losing the last commands can ask for it.
   */
  synchronous?: 'NORMAL' | 'FULL';
  /** Events per page for subscription catch-up and verification (default 1000). */
  pageSize?: number;
}

export interface SqliteEventStore extends EventStore {
  readonly file: string;
  /** Walks the whole hash chain; `expectHead` also detects a log cut short at its end. */
  verify(options?: Pick<VerifyChainOptions, 'expectHead'>): Promise<VerifyResult>;
}

interface EventRow {
  position: number;
  stream: string;
  revision: number;
  type: string;
  data: string;
  metadata: string;
  occurred_at: string;
  recorded_at: string;
  command_id: string;
  hash: string;
}

interface Head {
  position: number;
  hash: string;
}

const SQLITE_MAGIC = 'SQLite format 3\0';

const SCHEMA_V1 = `
  CREATE TABLE rekey_schema (
    version     INTEGER PRIMARY KEY,
    applied_at  TEXT NOT NULL,
    description TEXT NOT NULL
  );
  CREATE TABLE events (
    position    INTEGER PRIMARY KEY,
    stream      TEXT NOT NULL,
    revision    INTEGER NOT NULL,
    type        TEXT NOT NULL,
    data        TEXT NOT NULL,
    metadata    TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    command_id  TEXT NOT NULL,
    hash        TEXT NOT NULL,
    UNIQUE (stream, revision)
  );
  CREATE INDEX events_occurred_at ON events (occurred_at);
`;

const COLUMNS = 'position, stream, revision, type, data, metadata, occurred_at, recorded_at, command_id, hash';
/** What a RecordedEvent is made of, in the order of `EventTuple`. */
const EVENT_COLUMNS = 'position, stream, revision, type, data, metadata, recorded_at, hash';
type EventTuple = [position: number, stream: string, revision: number, type: string, data: string, metadata: string, recordedAt: string, hash: string];

export function openSqliteEventStore(options: SqliteEventStoreOptions): SqliteEventStore {
  const file = resolve(options.file);
  const readonly = options.readonly ?? false;
  const wallClock = options.wallClock ?? (() => new Date());
  const pollIntervalMs = options.pollIntervalMs ?? 200;
  const pageSize = options.pageSize ?? 1000;

  if (readonly && !existsSync(file)) {
    throw new RekeyError(STORE_NOT_FOUND, `event store file ${file} does not exist (opened read-only)`, { file });
  }
  if (!readonly) mkdirSync(dirname(file), { recursive: true });
  checkFileHeader(file);

  let db: Database.Database;
  try {
    db = new Database(file, { readonly, fileMustExist: readonly, timeout: options.busyTimeoutMs ?? 10_000 });
  } catch (error) {
    throw translate(error, file);
  }
  try {
    if (!readonly) {
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${options.synchronous ?? 'NORMAL'}`);
    }
    initSchema(db, file, readonly);
  } catch (error) {
    db.close();
    throw translate(error, file);
  }

  const headStmt = db.prepare<[], Head>('SELECT position, hash FROM events ORDER BY position DESC LIMIT 1');
  const streamHeadStmt = db
    .prepare<[string], number>('SELECT revision FROM events WHERE stream = ? ORDER BY revision DESC LIMIT 1')
    .pluck();
  const streamLastPositionStmt = db
    .prepare<[string], number>('SELECT position FROM events WHERE stream = ? ORDER BY revision DESC LIMIT 1')
    .pluck();
  const insertStmt = db.prepare(`INSERT INTO events (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  // Reads for events select only what a RecordedEvent holds, as arrays (`raw`): a replay of a long
  // log spends most of its time here, and named row objects cost about a third more (bench/projections.ts).
  const readStreamStmt = db.prepare<[string, number], EventTuple>(
    `SELECT ${EVENT_COLUMNS} FROM events WHERE stream = ? AND revision >= ? ORDER BY revision`,
  ).raw(true);
  const readEventsStmt = db.prepare<[number, number], EventTuple>(
    `SELECT ${EVENT_COLUMNS} FROM events WHERE position >= ? ORDER BY position LIMIT ?`,
  ).raw(true);
  const readAllStmt = db.prepare<[number, number], EventRow>(
    `SELECT ${COLUMNS} FROM events WHERE position >= ? ORDER BY position LIMIT ?`,
  );
  const dataVersionStmt = db.prepare<[], number>('PRAGMA data_version').pluck();

  // Sanity read of the newest pages: a file cut short usually fails here already.
  guard(() => headStmt.get(), file);

  let closed = false;
  let pollTimer: NodeJS.Timeout | undefined;
  let lastDataVersion = 0;

  const open = () => {
    if (closed) throw storeClosed('sqlite');
  };

  const toEvents = (rows: EventTuple[]): RecordedEvent[] => {
    const events = new Array<RecordedEvent>(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const [position, stream, revision, type, data, metadata, recordedAt, hash] = rows[i]!;
      events[i] = {
        stream,
        revision,
        position,
        type,
        data: JSON.parse(data) as Record<string, unknown>,
        metadata: JSON.parse(metadata) as EventMetadata,
        recordedAt,
        hash,
      };
    }
    return events;
  };

  const readPage = (fromPosition: number, limit: number): RecordedEvent[] => {
    open();
    if (nothingAfter(fromPosition)) return [];
    return toEvents(guard(() => readEventsStmt.all(fromPosition, limit), file));
  };

  const hub = new SubscriptionHub(readPage, {
    pageSize,
    onActive: () => {
      lastDataVersion = guard(() => dataVersionStmt.get(), file) ?? 0;
      pollTimer = setInterval(() => {
        if (closed) return;
        try {
          const version = dataVersionStmt.get() ?? 0;
          if (version === lastDataVersion) return;
          lastDataVersion = version;
        } catch {
          // fall through: the read in poke() reports the error to the subscribers
        }
        hub.poke();
      }, pollIntervalMs);
    },
    onIdle: () => {
      clearInterval(pollTimer);
      pollTimer = undefined;
    },
  });

  type Prepared = SerializedEvent;

  /*
   * What the last append of this connection left behind: the head and the revisions of the streams
   * it wrote, valid as long as `PRAGMA data_version` is unchanged. That pragma changes exactly when
   * another connection (another process, another store on the file, a raw handle) has committed, and
   * reading it under the write lock costs a fraction of the two SELECTs it replaces. On any other
   * value, and after any failed append, the cache is dropped and the rows are read again.
   */
  let cacheVersion: number | undefined;
  let cachedHead: Head | undefined;
  const cachedRevisions = new Map<string, number>();
  const MAX_CACHED_STREAMS = 100_000;
  const dropCache = () => {
    cacheVersion = undefined;
    cachedHead = undefined;
    cachedRevisions.clear();
  };
  /*
   * Whether the log certainly ends before `fromPosition`: this connection wrote its head and no other
   * connection has committed since. A writer catches up before every command (Engine.sync), and
   * almost always finds nothing; the pragma answers that at a third of the cost of the empty SELECT.
   */
  const nothingAfter = (fromPosition: number): boolean =>
    cachedHead !== undefined && fromPosition > cachedHead.position && guard(() => dataVersionStmt.get(), file) === cacheVersion;

  interface Part {
    readonly stream: string;
    readonly prepared: readonly Prepared[];
    readonly expected: ExpectedRevision;
  }

  interface AppendOutcome {
    firstPosition: number;
    firstRevision: number;
    hashes: string[];
  }

  // The whole append under the write lock: check every stream, then head, hash, insert.
  const appendTx = db.transaction((parts: readonly Part[], recordedAt: string): AppendOutcome[] => {
    const version = dataVersionStmt.get();
    if (version !== cacheVersion) {
      dropCache();
      cacheVersion = version;
    }
    const revisions = parts.map(({ stream, expected }) => {
      let actual = cachedRevisions.get(stream);
      if (actual === undefined) actual = streamHeadStmt.get(stream) ?? -1;
      if (!expectedMatches(expected, actual)) throw new WrongExpectedRevisionError(stream, expected, actual);
      return actual;
    });
    const head = cachedHead ?? headStmt.get() ?? { position: 0, hash: GENESIS_HASH };
    let previousHash = head.hash;
    let position = head.position;
    return parts.map(({ stream, prepared }, n): AppendOutcome => {
      const firstPosition = position + 1;
      let revision = revisions[n]!;
      const hashes: string[] = new Array(prepared.length);
      for (let i = 0; i < prepared.length; i++) {
        const p = prepared[i]!;
        position++;
        revision++;
        const hash = eventHashFromJson(previousHash, {
          stream, revision, position, type: p.type, dataJson: p.dataJson, metadataJson: p.metadataJson,
        });
        insertStmt.run(position, stream, revision, p.type, p.dataJson, p.metadataJson, p.occurredAt, recordedAt, p.commandId, hash);
        hashes[i] = hash;
        previousHash = hash;
      }
      return { firstPosition, firstRevision: revisions[n]! + 1, hashes };
    });
  });

  /** Runs one atomic write of several streams' events, then updates the cache and tells the subscribers. */
  const write = (parts: readonly Part[]): AppendResult[] => {
    const recordedAt = wallClock().toISOString();
    let outcomes: AppendOutcome[];
    try {
      outcomes = appendTx.immediate(parts, recordedAt);
    } catch (error) {
      dropCache();
      if (error instanceof RekeyError) throw error;
      if (isSqliteError(error) && (error.code === 'SQLITE_CONSTRAINT_UNIQUE' || error.code === 'SQLITE_CONSTRAINT_PRIMARYKEY')) {
        // Cannot happen under the immediate transaction; if it does, report it as the conflict it is.
        const { stream, expected } = parts[0]!;
        const actual = guard(() => streamHeadStmt.get(stream), file) ?? -1;
        throw new WrongExpectedRevisionError(stream, expected, actual);
      }
      throw translate(error, file);
    }
    const results = outcomes.map(({ firstPosition, firstRevision, hashes }, n): AppendResult => {
      const stream = parts[n]!.stream;
      if (hashes.length === 0) {
        return { lastRevision: firstRevision - 1, lastPosition: guard(() => streamLastPositionStmt.get(stream), file) ?? 0 };
      }
      const last = { revision: firstRevision + hashes.length - 1, position: firstPosition + hashes.length - 1 };
      cachedHead = { position: last.position, hash: hashes[hashes.length - 1]! };
      if (cachedRevisions.size >= MAX_CACHED_STREAMS) cachedRevisions.clear();
      cachedRevisions.set(stream, last.revision);
      return { lastRevision: last.revision, lastPosition: last.position };
    });
    hub.publish(() =>
      outcomes.flatMap(({ firstPosition, firstRevision, hashes }, n) => parts[n]!.prepared.map((p, i) => ({
        stream: parts[n]!.stream,
        revision: firstRevision + i,
        position: firstPosition + i,
        type: p.type,
        data: JSON.parse(p.dataJson) as Record<string, unknown>,
        metadata: JSON.parse(p.metadataJson) as EventMetadata,
        recordedAt,
        hash: hashes[i]!,
      }))),
    );
    return results;
  };

  const requireWritable = (stream: string) => {
    if (readonly) {
      throw new RekeyError(STORE_READONLY, `cannot append to stream ${stream}: the event store ${file} is open read-only`, { file, stream });
    }
  };

  const store: SqliteEventStore = {
    kind: 'sqlite',
    file,

    async append(stream: string, events: readonly NewEvent[], expected: ExpectedRevision): Promise<AppendResult> {
      open();
      requireWritable(stream);
      checkAppend(stream, events, expected);
      if (events.length === 0) {
        const actual = guard(() => streamHeadStmt.get(stream), file) ?? -1;
        if (!expectedMatches(expected, actual)) throw new WrongExpectedRevisionError(stream, expected, actual);
        return { lastRevision: actual, lastPosition: guard(() => streamLastPositionStmt.get(stream), file) ?? 0 };
      }
      // Serialise outside the transaction: the write lock is held only for the check and the inserts.
      return write([{ stream, prepared: serializeEvents(stream, events), expected }])[0]!;
    },

    async appendMany(batches: readonly StreamBatch[]): Promise<AppendResult[]> {
      open();
      checkBatches(batches);
      if (batches.length > 0) requireWritable(batches[0]!.stream);
      return write(batches.map(({ stream, events, expected }) => ({ stream, prepared: serializeEvents(stream, events), expected })));
    },

    async readStream(stream: string, fromRevision?: number): Promise<RecordedEvent[]> {
      open();
      const from = readStreamArguments(stream, fromRevision);
      return toEvents(guard(() => readStreamStmt.all(stream, from), file));
    },

    async readAll(fromPosition?: number, limit?: number): Promise<RecordedEvent[]> {
      open();
      const { from, max } = readAllArguments(fromPosition, limit, -1);
      return readPage(from, max);
    },

    async headPosition(): Promise<number> {
      open();
      return guard(() => headStmt.get(), file)?.position ?? 0;
    },

    subscribeAll(fromPosition?: number): Observable<RecordedEvent> {
      open();
      return hub.subscribe(checkIndex('fromPosition', fromPosition, 1));
    },

    async verify(verifyOptions: Pick<VerifyChainOptions, 'expectHead'> = {}): Promise<VerifyResult> {
      open();
      const pages = async function* (): AsyncGenerator<StoredChainLink[]> {
        let from = 1;
        for (;;) {
          open();
          const rows = guard(() => readAllStmt.all(from, pageSize), file);
          if (rows.length === 0) return;
          yield rows.map(toLink);
          from = rows[rows.length - 1]!.position + 1;
          if (rows.length < pageSize) return;
          await setImmediate();
        }
      };
      return verifyChain(pages(), { expectHead: verifyOptions.expectHead });
    },

    async close(): Promise<void> {
      if (closed) return;
      hub.completeAll();
      clearInterval(pollTimer);
      closed = true;
      db.close();
    },
  };
  return store;
}

/** A stored row as a chain link; the indexed columns must agree with the (hashed) metadata. */
function toLink(row: EventRow): StoredChainLink {
  const link: StoredChainLink = {
    stream: row.stream,
    revision: row.revision,
    position: row.position,
    type: row.type,
    dataJson: row.data,
    metadataJson: row.metadata,
    hash: row.hash,
  };
  let metadata: Partial<EventMetadata> | undefined;
  try {
    metadata = JSON.parse(row.metadata) as Partial<EventMetadata>;
  } catch {
    return link; // the hash check reports it
  }
  if (metadata?.occurredAt !== row.occurred_at || metadata?.commandId !== row.command_id) {
    link.problem = `event at position ${row.position}: the occurred_at/command_id columns ` +
      `(${row.occurred_at}, ${row.command_id}) differ from its hashed metadata ` +
      `(${String(metadata?.occurredAt)}, ${String(metadata?.commandId)})`;
  }
  return link;
}

/**
 * Cheap checks before SQLite sees the file: the magic header, and (when no WAL is pending) that the
 * file is as long as its header says. SQLite itself would open a garbage file lazily and fail only
 * at the first query, or read a truncated one until it trips over a missing page.
 */
function checkFileHeader(file: string): void {
  if (!existsSync(file)) return;
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (error) {
    throw storeCorrupt(file, `cannot be read (${(error as Error).message})`);
  }
  try {
    const size = fstatSync(fd).size;
    if (size === 0) return; // a new, empty file: initialised below
    const header = Buffer.alloc(100);
    const read = readSync(fd, header, 0, 100, 0);
    if (read < 100 || header.toString('latin1', 0, 16) !== SQLITE_MAGIC) {
      throw storeCorrupt(file, 'it is not an SQLite database (bad file header)');
    }
    const rawPageSize = header.readUInt16BE(16);
    const pageBytes = rawPageSize === 1 ? 65536 : rawPageSize;
    const changeCounter = header.readUInt32BE(24);
    const pageCount = header.readUInt32BE(28);
    const versionValidFor = header.readUInt32BE(92);
    const walFile = `${file}-wal`;
    const walPending = existsSync(walFile) && statSync(walFile).size > 0;
    if (!walPending && pageCount > 0 && changeCounter === versionValidFor && size < pageCount * pageBytes) {
      throw storeCorrupt(file, `it is truncated (${size} bytes, its header announces ${pageCount} pages of ${pageBytes} bytes)`);
    }
  } finally {
    closeSync(fd);
  }
}

function initSchema(db: Database.Database, file: string, readonly: boolean): void {
  const tables = (): string[] =>
    db.prepare<[], string>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").pluck().all();
  const check = (): 'ready' | 'empty' => {
    const names = tables();
    if (names.length === 0) return 'empty';
    if (!names.includes('rekey_schema') || !names.includes('events')) {
      throw storeCorrupt(file, `it is an SQLite database but not a rekey event store (tables: ${names.join(', ')})`);
    }
    const version = db.prepare<[], number | null>('SELECT MAX(version) FROM rekey_schema').pluck().get() ?? null;
    if (version === null) throw storeCorrupt(file, 'its rekey_schema table records no schema version');
    if (version > SQLITE_SCHEMA_VERSION) {
      throw new RekeyError(
        STORE_SCHEMA_UNSUPPORTED,
        `${file} has event store schema version ${version}; this rekey reads versions up to ${SQLITE_SCHEMA_VERSION}: upgrade rekey`,
        { file, version, supported: SQLITE_SCHEMA_VERSION },
      );
    }
    if (version < SQLITE_SCHEMA_VERSION) {
      if (readonly) throw storeCorrupt(file, `schema version ${version} needs a migration, which a read-only open cannot do`);
      migrate(db, version);
    }
    return 'ready';
  };
  if (readonly) {
    if (check() === 'empty') throw storeCorrupt(file, 'it holds no rekey event store (no tables)');
    return;
  }
  // Under the write lock, so two processes creating the same new file do not both create the schema.
  db.transaction(() => {
    if (check() === 'empty') {
      db.exec(SCHEMA_V1);
      db.prepare('INSERT INTO rekey_schema (version, applied_at, description) VALUES (?, ?, ?)').run(
        1, new Date().toISOString(), 'events with hash chain, UNIQUE(stream, revision), index on occurred_at',
      );
    }
  }).immediate();
}

/** Brings an older schema up to SQLITE_SCHEMA_VERSION, one recorded step at a time (none yet). */
function migrate(db: Database.Database, from: number): void {
  for (let version = from + 1; version <= SQLITE_SCHEMA_VERSION; version++) {
    throw new Error(`no migration to event store schema version ${version} (database ${db.name})`);
  }
}

function guard<T>(fn: () => T, file: string): T {
  try {
    return fn();
  } catch (error) {
    throw translate(error, file);
  }
}

const translate = translateSqliteError;
