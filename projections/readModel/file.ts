/**
 * The read model's SQLite file: its layout (tables, indexes, version), the statements that write
 * rows, snapshots and the checkpoint, and the reset to an empty file. A file written by another
 * projection version or layout is dropped and laid out afresh when opened, so everything that reads
 * the file can trust its shape.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import type { Instant } from '../../src/domain/time.js';
import type { EventStore, RecordedEvent } from '../../src/store/port.js';
import { translateSqliteError } from '../../src/store/sqliteErrors.js';
import { PROJECTION_VERSION } from '../projection.js';

/** The file's layout beside the projection's version: 2 added the checkpoint each row was written at. */
const FILE_LAYOUT = 2;
/** What a read model file's `version` meta row says when this code wrote it. */
export const READ_MODEL_FILE_VERSION = `${PROJECTION_VERSION}.${FILE_LAYOUT}`;
const FILE_VERSION = READ_MODEL_FILE_VERSION;

export interface Checkpoint {
  readonly position: number;
  readonly hash: string;
  /** The latest occurredAt applied: the instant the head tables are rendered at. */
  readonly instant: Instant | null;
}

/** `<events file>.read.db` beside a SQLite event store; ':memory:' otherwise. */
export function defaultReadModelFile(store: EventStore): string {
  const file = (store as { file?: unknown }).file;
  return store.kind === 'sqlite' && typeof file === 'string' ? `${file}.read.db` : ':memory:';
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

/** Stores one snapshot (position, instant, hash, state); also run by the catch-up's helper thread. */
export const INSERT_SNAPSHOT_SQL = 'INSERT OR REPLACE INTO rekey_read_snapshots (position, instant, hash, state) VALUES (?, ?, ?, ?)';

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

export interface SnapshotRecord {
  position: number;
  hash: string;
  state: string;
}

/** Which log a file was built from: its first event's hash and append time. */
export function originOf(event: Pick<RecordedEvent, 'hash' | 'recordedAt'>): string {
  return `${event.hash}@${event.recordedAt}`;
}

/** Opens (creating or laying out afresh) the file; every call into SQLite goes through `sqlite`, which names the file in errors. */
export function openReadModelFile(file: string) {
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
  const insertSnapshot = db.prepare<[number, number | null, string, string]>(INSERT_SNAPSHOT_SQL);
  const latestSnapshot = db.prepare<[], SnapshotRecord>('SELECT position, hash, state FROM rekey_read_snapshots ORDER BY position DESC LIMIT 1');
  const snapshotAtPosition = db.prepare<[number], SnapshotRecord>(
    'SELECT position, hash, state FROM rekey_read_snapshots WHERE position <= ? ORDER BY position DESC LIMIT 1',
  );
  const snapshotAtInstant = db.prepare<[number], SnapshotRecord>(
    // A snapshot's instant is the latest occurredAt up to its position, so it never decreases with the position.
    'SELECT position, hash, state FROM rekey_read_snapshots WHERE instant IS NOT NULL AND instant <= ? ORDER BY instant DESC, position DESC LIMIT 1',
  );
  const deleteSnapshotsAfter = db.prepare<[number]>('DELETE FROM rekey_read_snapshots WHERE position > ?');
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

  return {
    file, db, sqlite, readCheckpoint, reset,
    getMeta, setMeta, upsertRow, insertSnapshot, latestSnapshot, snapshotAtPosition, snapshotAtInstant, deleteSnapshotsAfter, snapshotList,
  };
}

export type ReadModelFile = ReturnType<typeof openReadModelFile>;
