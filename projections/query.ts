/**
 * The query entry point of the CLI and the HTTP API: one table, at the head of the log or as of an
 * instant or position, through the OData subset of `src/query`, answered in the Web API's shape.
 */
import type { Instant } from '../src/domain/time.js';
import { runQuery, type Row } from '../src/query/index.js';
import type { EventStore } from '../src/store/port.js';
import type { ReadModel } from './readModel.js';
import { CHOICES, COLUMNS, requireTable, type TableName } from './tables.js';
import { projectionAt } from './timeTravel.js';

export interface QueryTableOptions {
  /** A read model (persisted rows, snapshots) or, failing that, a bare store (replays the log). */
  readonly readModel?: ReadModel;
  readonly store?: EventStore;
  /** Entity set name: flowmachinegroups, flowmachines or desktopflowconnections. */
  readonly table: string;
  /** Tables as of this instant (ms or ISO-8601), derived columns evaluated at it. */
  readonly asOf?: Instant | string;
  /** Tables as of this log position. */
  readonly position?: number;
  readonly filter?: string;
  readonly select?: string | readonly string[];
  readonly orderby?: string;
  readonly top?: number | string;
  readonly count?: boolean | string;
}

export interface ODataResponse {
  readonly '@odata.context': string;
  readonly value: Row[];
  readonly '@odata.count'?: number;
}

/**
 * Runs one query. Unknown tables (TABLE_UNKNOWN), bad options (ODATA_*) and bad points in time are
 * refused before any event is read. Without `asOf`/`position` the rows are those of the head of the
 * log, with derived columns evaluated at its latest occurredAt.
 */
export async function queryTable(options: QueryTableOptions): Promise<ODataResponse> {
  const table: TableName = requireTable(options.table);
  const request = {
    table,
    columns: COLUMNS[table],
    filter: options.filter,
    select: options.select,
    orderby: options.orderby,
    top: options.top,
    count: options.count,
    // A choice column's filter takes its label too: keydeliverystatus eq 'PendingNewKey'.
    choices: CHOICES[table],
  };
  runQuery({ ...request, rows: [] }); // validates every option first
  const source = options.readModel ?? options.store;
  if (!source) throw new TypeError('queryTable needs a readModel or a store');
  let rows: Row[];
  /** The instant the rows are rendered at: relative query functions (LastXDays) count from it. */
  let now: number | undefined;
  if (options.readModel && options.asOf === undefined && options.position === undefined) {
    now = (await options.readModel.sync()).instant ?? undefined;
    rows = options.readModel.rows(table);
  } else {
    const { projection, renderAt } = await projectionAt(source, { asOf: options.asOf, position: options.position });
    now = renderAt ?? undefined;
    rows = projection.rows(table, renderAt);
  }
  const result = runQuery({ ...request, rows, now });
  const response: { '@odata.context': string; value: Row[]; '@odata.count'?: number } = {
    '@odata.context': `$metadata#${table}`,
    value: result.value,
  };
  if (result.count !== undefined) response['@odata.count'] = result.count;
  return response;
}
