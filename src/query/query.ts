/** Runs an OData query ($filter, $select, $orderby, $top, $count) over the rows of one table. */
import { isAnnotationKey, tableColumns, type Row } from './columns.js';
import { columnSortKeys, compareSortKeys, evaluateFilter, type SortKey } from './evaluator.js';
import { parseCount, parseOrderBy, parseSelect, parseTop, type OrderByItem } from './options.js';
import { parseFilter, type ChoiceLabels } from './parser.js';

export interface QueryRequest {
  /** The entity set name (flowmachines, ...), used in messages. */
  readonly table: string;
  readonly rows: readonly Row[];
  /** The table's columns (annotation keys, if any, are ignored). */
  readonly columns: readonly string[];
  readonly filter?: string | undefined;
  readonly select?: string | readonly string[] | undefined;
  readonly orderby?: string | undefined;
  readonly top?: number | string | undefined;
  readonly count?: boolean | string | undefined;
  /** Parameter aliases of $filter (`@p1` -> its OData literal text), as the request gives them. */
  readonly aliases?: Readonly<Record<string, string>> | undefined;
  /** The table's choice columns (column -> code -> label): $filter accepts their labels. */
  readonly choices?: ChoiceLabels | undefined;
  /** The read's as-of instant (epoch ms): relative query functions (LastXDays, ...) count from it. */
  readonly now?: number | undefined;
}

export interface QueryResult {
  readonly value: Row[];
  /** Present when $count is true: every row that matches the filter, ignoring $top. */
  readonly count?: number;
}

function given<T>(value: T | null | undefined): value is T {
  return value !== undefined && value !== null;
}

/** Sorts stably by the $orderby keys; nulls come first on asc and last on desc, as in Dataverse. */
function sortRows(rows: readonly Row[], orderby: readonly OrderByItem[]): Row[] {
  const keys = orderby.map((item) => columnSortKeys(rows, item.column));
  const indexes = rows.map((_, index) => index);
  indexes.sort((a, b) => {
    for (let k = 0; k < orderby.length; k++) {
      const columnKeys = keys[k] as readonly SortKey[];
      const c = compareSortKeys(columnKeys[a] as SortKey, columnKeys[b] as SortKey);
      if (c !== 0) return (orderby[k] as OrderByItem).direction === 'desc' ? -c : c;
    }
    return a - b;
  });
  return indexes.map((index) => rows[index] as Row);
}

/**
 * Keeps the selected columns in the order given (a missing one as null), each followed by its
 * annotations (`<column>@OData.Community.Display.V1.FormattedValue`, ...), and the row's own
 * annotations (`@odata.etag`).
 */
function project(row: Row, selected: readonly string[], selectedSet: ReadonlySet<string>): Row {
  const out: Row = {};
  const annotations = new Map<string, string[]>();
  for (const key of Object.keys(row)) {
    if (!isAnnotationKey(key)) continue;
    const at = key.indexOf('@');
    if (at === 0) {
      out[key] = row[key];
      continue;
    }
    const column = key.slice(0, at);
    if (!selectedSet.has(column)) continue;
    const list = annotations.get(column);
    if (list === undefined) annotations.set(column, [key]);
    else list.push(key);
  }
  for (const column of selected) {
    const value = Object.prototype.hasOwnProperty.call(row, column) ? row[column] : undefined;
    out[column] = value === undefined ? null : value;
    for (const key of annotations.get(column) ?? []) out[key] = row[key];
  }
  return out;
}

export function runQuery(request: QueryRequest): QueryResult {
  const { table, rows } = request;
  const columns = tableColumns(request.columns);
  // Every option is validated before any row is looked at.
  const filterOptions = { ...(request.aliases ? { aliases: request.aliases } : {}), ...(request.choices ? { choices: request.choices } : {}) };
  const filter = given(request.filter) ? parseFilter(request.filter, columns, table, filterOptions) : undefined;
  const select = given(request.select) ? parseSelect(request.select, columns, table) : undefined;
  const orderby = given(request.orderby) ? parseOrderBy(request.orderby, columns, table) : undefined;
  const top = given(request.top) ? parseTop(request.top) : undefined;
  const count = given(request.count) ? parseCount(request.count) : false;

  let matched: Row[] = filter === undefined ? [...rows] : rows.filter((row) => evaluateFilter(filter, row, request.now === undefined ? {} : { now: request.now }));
  const total = matched.length;
  if (orderby !== undefined) matched = sortRows(matched, orderby);
  if (top !== undefined) matched = matched.slice(0, top);
  const selectedSet = new Set(select ?? []);
  const value = matched.map((row) => (select === undefined ? { ...row } : project(row, select, selectedSet)));
  return count ? { value, count: total } : { value };
}
