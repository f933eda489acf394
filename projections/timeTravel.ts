/**
 * Time travel (docs/model.md, Tables): every table as of an instant (domain time, `occurredAt`) or a log
 * position, the history of one row, and the difference between two points in time.
 *
 * - As of position p: the events 1..p, rendered at the latest occurredAt among them.
 * - As of instant t: the longest prefix of the log whose events occurred at or before t, rendered at
 *   t (so `lastheartbeatdate` counts the check-ins a connected machine made up to t, R21).
 * - Neither: the head of the log, rendered at its latest occurredAt (never at the wall clock).
 * With a read model, replay starts from the nearest stored snapshot; with a bare store, from 0.
 */
import { RekeyError, errorKind } from '../src/kernel/errors.js';
import { parseInstant, toIso, type Instant } from '../src/domain/time.js';
import type { EventStore, RecordedEvent } from '../src/store/port.js';
import { Projection, type ChangeType, type RowChange } from './projection.js';
import { isReadModel, type ReadModel } from './readModel.js';
import { replayInto } from './replay.js';
import { COLUMNS, requireTable, TABLES, type Row, type TableName } from './tables.js';

export const POSITION_OUT_OF_RANGE = errorKind('POSITION_OUT_OF_RANGE', 'validation');
export const AS_OF_CONFLICT = errorKind('AS_OF_CONFLICT', 'validation');
export const ROW_NOT_FOUND = errorKind('ROW_NOT_FOUND', 'not_found');

/** Where the tables come from: a bare event store (replays from 0) or a read model (snapshots). */
export type ProjectionSource = EventStore | ReadModel;

export interface PointInTime {
  /** An instant (milliseconds since the epoch, or ISO-8601 text). */
  readonly asOf?: Instant | string;
  /** A log position (0 = before the first event). */
  readonly position?: number;
}

export interface ResolvedPoint {
  /** Position of the last event included. */
  readonly position: number;
  /** The instant derived columns were evaluated at (null for an empty prefix of the log). */
  readonly instant: string | null;
}

export interface TablesAt extends ResolvedPoint {
  readonly tables: Record<TableName, Row[]>;
}

export function storeOf(source: ProjectionSource): EventStore {
  return isReadModel(source) ? source.store : source;
}

function parseAsOf(value: Instant | string): Instant {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new RekeyError('INSTANT_INVALID', `as-of instant ${value} is not a finite number of milliseconds`, { value }, 'validation');
    return value;
  }
  return parseInstant(value, 'as-of instant');
}

/** The projection at a point in time and the instant its rows are to be rendered at. */
export async function projectionAt(source: ProjectionSource, point: PointInTime = {}): Promise<{ projection: Projection; renderAt: Instant | null }> {
  const store = storeOf(source);
  if (point.asOf !== undefined && point.position !== undefined) {
    throw new RekeyError(AS_OF_CONFLICT, 'give either an as-of instant or a log position, not both', {}, 'validation');
  }
  const replay = async (limit: { position?: number; instant?: Instant }): Promise<Projection> => {
    if (isReadModel(source)) return source.projectionAt(limit);
    const projection = new Projection();
    await replayInto(store, projection, limit);
    return projection;
  };
  if (point.asOf !== undefined) {
    const instant = parseAsOf(point.asOf);
    return { projection: await replay({ instant }), renderAt: instant };
  }
  const head = await store.headPosition();
  let position = head;
  if (point.position !== undefined) {
    position = point.position;
    if (!Number.isSafeInteger(position) || position < 0) {
      throw new RekeyError(POSITION_OUT_OF_RANGE, `position ${String(point.position)} is not a whole number >= 0`, { position: point.position }, 'validation');
    }
    if (position > head) {
      throw new RekeyError(POSITION_OUT_OF_RANGE, `position ${position} is beyond the end of the log (its last position is ${head})`, { position, head }, 'validation');
    }
  }
  const projection = await replay({ position });
  return { projection, renderAt: projection.instant };
}

/** Every table as of a point in time. */
export async function tablesAt(source: ProjectionSource, point: PointInTime = {}): Promise<TablesAt> {
  const { projection, renderAt } = await projectionAt(source, point);
  return { position: projection.position, instant: renderAt === null ? null : toIso(renderAt), tables: projection.tables(renderAt) };
}

/** One table as of a point in time. */
export async function tableAt(source: ProjectionSource, table: string, point: PointInTime = {}): Promise<ResolvedPoint & { rows: Row[] }> {
  const name = requireTable(table);
  const { projection, renderAt } = await projectionAt(source, point);
  return { position: projection.position, instant: renderAt === null ? null : toIso(renderAt), rows: projection.rows(name, renderAt) };
}

// ---- history ---------------------------------------------------------------------------------------

export interface RowHistoryEntry {
  readonly occurredAt: string;
  readonly position: number;
  readonly event: string;
  readonly changeType: ChangeType;
  readonly changedColumns: readonly string[];
  /** The whole row after the change; null after a Delete. */
  readonly row: Row | null;
}

export interface RowHistory {
  readonly table: TableName;
  readonly name: string;
  readonly id: string;
  readonly changes: RowHistoryEntry[];
}

const versionOf = (row: Row): number => Number(/W\/"(\d+)"/.exec(String(row['@odata.etag']))?.[1] ?? 0);

/**
 * Every change of one row, in log order, found by id or else by name (exactly, then ignoring case).
 * When several rows had the name (a group deleted and created again), the existing one wins, then
 * the one changed last. With a read model only the streams that touch the row are read.
 */
export async function rowHistory(source: ProjectionSource, table: string, nameOrId: string): Promise<RowHistory> {
  const name = requireTable(table);
  const store = storeOf(source);
  let id: string;
  let events: RecordedEvent[];
  if (isReadModel(source)) {
    await source.sync();
    const candidates = source.findRows(name, nameOrId);
    const chosen = [...candidates].sort((a, b) => Number(a.deleted) - Number(b.deleted) || versionOf(b.row) - versionOf(a.row))[0];
    if (!chosen) throw notFound(name, nameOrId);
    id = chosen.id;
    const streams = await Promise.all(chosen.streams.map((stream) => store.readStream(stream)));
    events = streams.flat().sort((a, b) => a.position - b.position);
  } else {
    // A bare store: one pass over the log, keeping the changes of every row that matches.
    const byId = new Map<string, RowChange[]>();
    const projection = new Projection();
    const lower = nameOrId.toLowerCase();
    await replayInto(store, projection, {}, {
      sink: (change) => {
        if (change.table !== name) return;
        if (change.id === nameOrId || change.name.toLowerCase() === lower || byId.has(change.id)) {
          byId.set(change.id, [...(byId.get(change.id) ?? []), change]);
        }
      },
    });
    const candidates = [...byId.entries()].map(([rowId, changes]) => {
      const last = changes[changes.length - 1]!;
      const exact = rowId === nameOrId ? 0 : last.name === nameOrId ? 1 : 2;
      return { rowId, exact, deleted: last.changeType === 'Delete', position: last.position };
    });
    candidates.sort((a, b) => a.exact - b.exact || Number(a.deleted) - Number(b.deleted) || b.position - a.position);
    const chosen = candidates[0];
    if (!chosen) throw notFound(name, nameOrId);
    id = chosen.rowId;
    return toHistory(name, id, byId.get(id)!);
  }
  const changes: RowChange[] = [];
  const projection = new Projection();
  for (const event of events) {
    projection.apply(event, (change) => {
      if (change.table === name && change.id === id) changes.push(change);
    });
  }
  return toHistory(name, id, changes);
}

function toHistory(table: TableName, id: string, changes: RowChange[]): RowHistory {
  const last = changes[changes.length - 1];
  return {
    table,
    name: last ? last.name : '',
    id,
    changes: changes.map((change) => ({
      occurredAt: change.occurredAt,
      position: change.position,
      event: change.event,
      changeType: change.changeType,
      changedColumns: change.changedColumns,
      row: change.changeType === 'Delete' ? null : change.row,
    })),
  };
}

function notFound(table: TableName, nameOrId: string): RekeyError {
  return new RekeyError(ROW_NOT_FOUND, `no row of ${table} has the id or name ${JSON.stringify(nameOrId)}`, { table, nameOrId }, 'not_found');
}

// ---- difference ------------------------------------------------------------------------------------

export interface RowDifference {
  readonly table: TableName;
  readonly changeType: ChangeType;
  readonly id: string;
  readonly name: string;
  /** Columns that differ (every column for a Create, none for a Delete). */
  readonly changedColumns: readonly string[];
  readonly before: Row | null;
  readonly after: Row | null;
}

export interface TablesDiff {
  readonly from: ResolvedPoint;
  readonly to: ResolvedPoint;
  readonly changes: RowDifference[];
}

/** Row by row, what changed from one set of tables to another (tables in order, then by name). */
export function diffTables(a: Record<TableName, Row[]>, b: Record<TableName, Row[]>, tables: readonly TableName[] = TABLES): RowDifference[] {
  const changes: RowDifference[] = [];
  for (const table of tables) {
    const idColumn = COLUMNS[table][0]!;
    const before = new Map(a[table].map((row) => [String(row[idColumn]), row]));
    const after = new Map(b[table].map((row) => [String(row[idColumn]), row]));
    const perTable: RowDifference[] = [];
    for (const [id, row] of after) {
      const old = before.get(id);
      if (!old) {
        perTable.push({ table, changeType: 'Create', id, name: String(row.name), changedColumns: [...COLUMNS[table]], before: null, after: row });
        continue;
      }
      const changedColumns = COLUMNS[table].filter((column) => old[column] !== row[column]);
      if (changedColumns.length > 0) perTable.push({ table, changeType: 'Update', id, name: String(row.name), changedColumns, before: old, after: row });
    }
    for (const [id, row] of before) {
      if (!after.has(id)) perTable.push({ table, changeType: 'Delete', id, name: String(row.name), changedColumns: [], before: row, after: null });
    }
    perTable.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
    changes.push(...perTable);
  }
  return changes;
}

/** What changed in the tables between two points in time, row by row (tables in order, then by name). */
export async function tablesDiff(
  source: ProjectionSource,
  from: PointInTime,
  to: PointInTime,
  options: { tables?: readonly string[] } = {},
): Promise<TablesDiff> {
  const tables = (options.tables ?? TABLES).map(requireTable);
  const [a, b] = [await tablesAt(source, from), await tablesAt(source, to)];
  const changes = diffTables(a.tables, b.tables, tables);
  return { from: { position: a.position, instant: a.instant }, to: { position: b.position, instant: b.instant }, changes };
}
