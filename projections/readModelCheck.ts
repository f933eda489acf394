/**
 * `rekey verify`'s look at the read model file: the tables people read are only as trustworthy as
 * the file that holds them, so its rows, its checkpoint and its snapshots are compared with a replay
 * of the log, which the hash chain vouches for. The file is opened read-only and never changed.
 *
 * What it finds:
 * - `missing`: the file was built from this log (same first event) but has applied events that the
 *   log no longer holds, or another event where its checkpoint points: acknowledged events were
 *   lost (a deleted -wal file, a restored backup).
 * - `forged`: a row, the checkpoint's instant or a snapshot differs from the replay: the file was
 *   edited behind rekey's back (or a bug wrote it wrong).
 * - `ok`, or `skipped` when there is no file, or it belongs to another log or projection version
 *   (rekey rebuilds such a file before it reads it, so it misleads nobody).
 */
import { existsSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import Database from 'better-sqlite3';
import type { EventStore } from '../src/store/port.js';
import { Projection, type PersistedRow } from './projection.js';
import { READ_MODEL_FILE_VERSION, originOf, type RowRecord } from './readModel.js';
import { replayInto } from './replay.js';
import { COLUMNS, type Row, type TableName } from './tables.js';

export type ReadModelCheck =
  | { readonly status: 'skipped'; readonly reason: string }
  | { readonly status: 'ok'; readonly position: number; readonly rows: number; readonly snapshots: number }
  | { readonly status: 'missing' | 'forged'; readonly position: number; readonly message: string };

export async function checkReadModel(store: EventStore, file: string): Promise<ReadModelCheck> {
  if (!existsSync(file)) return { status: 'skipped', reason: `there is no read model file ${file}` };
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const meta = new Map(db.prepare<[], { key: string; value: string }>('SELECT key, value FROM rekey_read_meta').all().map((r) => [r.key, r.value]));
    if (meta.get('version') !== READ_MODEL_FILE_VERSION) {
      return { status: 'skipped', reason: `the read model ${file} was written by another version (${meta.get('version') ?? 'none'}); rekey rebuilds it before reading it` };
    }
    const position = Number(meta.get('checkpoint') ?? 0);
    const hash = meta.get('checkpoint_hash') ?? '';
    const [first] = await store.readAll(1, 1);
    const origin = meta.get('origin');
    const sameLog = origin !== undefined && first !== undefined && originOf(first) === origin;
    if (position > 0) {
      const [event] = await store.readAll(position, 1);
      if (!event || event.hash !== hash) {
        if (origin !== undefined && (sameLog || first === undefined)) {
          const head = await store.headPosition();
          return {
            status: 'missing',
            position: event ? position : head + 1,
            message: event
              ? `the read model ${file} was built from this log up to position ${position} (event hash ${hash}), but the log holds another event there (hash ${event.hash}): events it had applied were replaced`
              : `the read model ${file} was built from this log up to position ${position}, but the log ends at position ${head}: ${position - head} acknowledged events are missing (a lost -wal file, or a restored backup?)`,
          };
        }
        return { status: 'skipped', reason: `the read model ${file} was built from another log; rekey rebuilds it before reading it` };
      }
    }
    if (origin !== undefined && !sameLog) {
      return { status: 'skipped', reason: `the read model ${file} was built from another log; rekey rebuilds it before reading it` };
    }

    // The rows at the checkpoint, and every snapshot, against one replay of the log.
    const snapshots = db.prepare<[], { position: number; state: string }>('SELECT position, state FROM rekey_read_snapshots ORDER BY position').all();
    const projection = new Projection();
    for (const snapshot of snapshots) {
      await replayInto(store, projection, { position: snapshot.position });
      if (projection.position !== snapshot.position) {
        return { status: 'missing', position: projection.position + 1, message: `the read model ${file} holds a snapshot at position ${snapshot.position}, but the log ends at position ${projection.position}` };
      }
      if (snapshot.position > position) continue; // written ahead of the checkpoint by a catch-up cut short: compared once reached
      if (!isDeepStrictEqual(JSON.parse(snapshot.state), JSON.parse(projection.serialize()))) {
        return { status: 'forged', position: snapshot.position, message: `the read model ${file} holds a snapshot at position ${snapshot.position} that differs from a replay of the log to that position (as-of reads start from it)` };
      }
    }
    if (projection.position > position) {
      // Snapshots past the checkpoint: replay again to the checkpoint for the rows.
      const fresh = new Projection();
      await replayInto(store, fresh, { position });
      return compareRows(db, file, fresh, position, meta.get('instant'), snapshots.length);
    }
    await replayInto(store, projection, { position });
    return compareRows(db, file, projection, position, meta.get('instant'), snapshots.length);
  } finally {
    db.close();
  }
}

function compareRows(db: Database.Database, file: string, projection: Projection, position: number, instant: string | undefined, snapshots: number): ReadModelCheck {
  const expectedInstant = projection.instant === null ? '' : String(projection.instant);
  if ((instant ?? '') !== expectedInstant) {
    return { status: 'forged', position, message: `the read model ${file} says its tables are as of instant ${instant ?? 'none'}, but the log's latest instant up to position ${position} is ${expectedInstant || 'none'}` };
  }
  const stored = new Map(db.prepare<[], RowRecord>('SELECT * FROM rekey_read_rows').all().map((r) => [`${r.tbl}\u0000${r.id}`, r]));
  const expected = projection.drainDirty(true);
  for (const want of expected) {
    const key = `${want.table}\u0000${want.id}`;
    const have = stored.get(key);
    stored.delete(key);
    const problem = differs(want, have);
    if (problem !== null) {
      return { status: 'forged', position, message: `the read model ${file}: ${want.table} row ${want.id} (${want.name}) ${problem} in a replay of the log to position ${position}` };
    }
  }
  for (const extra of stored.values()) {
    return { status: 'forged', position, message: `the read model ${file}: ${extra.tbl} row ${extra.id} (${extra.name}) is not in a replay of the log to position ${position}` };
  }
  return { status: 'ok', position, rows: expected.length, snapshots };
}

/** How a stored row differs from the replayed one, or null. */
function differs(want: PersistedRow, have: RowRecord | undefined): string | null {
  if (!have) return 'is missing from the file; it is';
  if ((have.deleted === 1) !== want.deleted) return `is ${have.deleted === 1 ? 'deleted' : 'live'} in the file, ${want.deleted ? 'deleted' : 'live'}`;
  if (have.name !== want.name) return `is named ${JSON.stringify(have.name)} in the file, ${JSON.stringify(want.name)}`;
  const row = JSON.parse(have.row) as Row;
  for (const column of [...COLUMNS[want.table as TableName], ...Object.keys(want.row)]) {
    if (!isDeepStrictEqual(row[column], want.row[column])) {
      return `has ${column} ${JSON.stringify(row[column])} in the file, ${JSON.stringify(want.row[column])}`;
    }
  }
  if (!isDeepStrictEqual(row, want.row)) return 'has columns of its own in the file, not';
  if (!isDeepStrictEqual(have.heartbeat === null ? null : JSON.parse(have.heartbeat), want.heartbeat)) return 'has other check-in facts (lastheartbeatdate) in the file than';
  if (!isDeepStrictEqual(JSON.parse(have.streams), want.streams)) return 'names other streams in the file than';
  return null;
}
