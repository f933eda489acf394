/**
 * Reading the tables out of the file: each process keeps a parsed copy of every table and brings it
 * up to date by reading only the rows written since it last looked, so a read after a write does not
 * parse every table again. Derived columns (machines: lastheartbeatdate, R21) are rendered at the
 * instant asked for.
 */
import { toIso, type Instant } from '../../src/domain/time.js';
import { heartbeatAt, type HeartbeatBasis } from '../heartbeat.js';
import { ID_COLUMN, type Row, type TableName } from '../tables.js';
import type { Checkpoint, ReadModelFile, RowRecord } from './file.js';

export interface StoredRowInfo {
  readonly table: TableName;
  readonly id: string;
  readonly name: string;
  readonly deleted: boolean;
  readonly streams: readonly string[];
  readonly row: Row;
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

export interface TableReader {
  /** The stored rows of a table (deleted ones excluded), with derived columns evaluated at `at` (default: the checkpoint's instant). */
  rows(table: TableName, at?: Instant | null): Row[];
  /** Rows (deleted ones included) whose id, or else name, is `nameOrId`, rendered at `instant`. */
  findRows(table: TableName, nameOrId: string, instant: Instant | null): StoredRowInfo[];
}

export function tableReader({ db, sqlite, readCheckpoint, getMeta }: ReadModelFile): TableReader {
  const rowsOfTable = db.prepare<[string], RowRecord>('SELECT * FROM rekey_read_rows WHERE tbl = ? AND deleted = 0');
  const rowsWrittenAfter = db.prepare<[string, number], RowRecord>('SELECT * FROM rekey_read_rows WHERE tbl = ? AND written > ?');
  const rowsById = db.prepare<[string, string], RowRecord>('SELECT * FROM rekey_read_rows WHERE tbl = ? AND id = ?');
  const rowsByName = db.prepare<[string, string], RowRecord>('SELECT * FROM rekey_read_rows WHERE tbl = ? AND name = ?');
  const rowsByNameNoCase = db.prepare<[string, string], RowRecord>('SELECT * FROM rekey_read_rows WHERE tbl = ? AND name = ? COLLATE NOCASE');
  const copies = new Map<TableName, TableCopy>();

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

  return {
    rows(table: TableName, at?: Instant | null): Row[] {
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

    findRows(table: TableName, nameOrId: string, instant: Instant | null): StoredRowInfo[] {
      let records = sqlite(() => rowsById.all(table, nameOrId));
      if (records.length === 0) records = sqlite(() => rowsByName.all(table, nameOrId));
      if (records.length === 0) records = sqlite(() => rowsByNameNoCase.all(table, nameOrId));
      return records.map((record) => ({
        table,
        id: record.id,
        name: record.name,
        deleted: record.deleted === 1,
        streams: JSON.parse(record.streams) as string[],
        row: toRow(record, instant),
      }));
    },
  };
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
