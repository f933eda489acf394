/**
 * Evaluates a parsed $filter on a row, with Dataverse's semantics:
 * - strings compare case-insensitively (both sides lower-cased, then by UTF-16 code units);
 * - instants compare chronologically: when either side is an unquoted instant literal, or when both
 *   sides are strings that are ISO-8601 instants (date, time and zone), they compare by time;
 * - `eq null` / `ne null` test for an empty column (a missing key counts as null); any other
 *   comparison with null is false;
 * - values of different types (a number with a string, an instant with a non-instant) are never
 *   equal: `eq` and the ordering operators are false, `ne` is true;
 * - contains/startswith/endswith are case-insensitive and false on a column that holds no string.
 */
import type { ComparisonOperator, FilterAst, Operand } from './ast.js';
import type { Row } from './columns.js';
import { parseInstant, parseInstantLiteral } from './instant.js';

type Value =
  | { readonly t: 'null' }
  | { readonly t: 'string'; readonly s: string }
  | { readonly t: 'number'; readonly n: number }
  | { readonly t: 'boolean'; readonly b: boolean }
  | { readonly t: 'instant'; readonly ms: number }
  | { readonly t: 'other' };

const NULL: Value = { t: 'null' };
const OTHER: Value = { t: 'other' };

function fromRow(value: unknown): Value {
  switch (typeof value) {
    case 'string':
      return { t: 'string', s: value };
    case 'number':
      return { t: 'number', n: value };
    case 'bigint':
      return { t: 'number', n: Number(value) };
    case 'boolean':
      return { t: 'boolean', b: value };
    case 'undefined':
      return NULL;
    default:
      if (value === null) return NULL;
      if (value instanceof Date) return Number.isNaN(value.getTime()) ? OTHER : { t: 'instant', ms: value.getTime() };
      return OTHER;
  }
}

function resolve(operand: Operand, row: Row): Value {
  if (operand.kind === 'column') return fromRow(Object.prototype.hasOwnProperty.call(row, operand.name) ? row[operand.name] : undefined);
  switch (operand.type) {
    case 'string':
    case 'guid':
      return { t: 'string', s: operand.value };
    case 'number':
      return { t: 'number', n: operand.value };
    case 'boolean':
      return { t: 'boolean', b: operand.value };
    case 'null':
      return NULL;
    case 'instant':
      return { t: 'instant', ms: operand.time };
  }
}

function sign(difference: number): number {
  return difference < 0 ? -1 : difference > 0 ? 1 : 0;
}

function compareText(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  return x < y ? -1 : x > y ? 1 : 0;
}

function timeOf(value: Value): number | undefined {
  if (value.t === 'instant') return value.ms;
  if (value.t === 'string') return parseInstant(value.s);
  return undefined;
}

/** The order of two non-null values, or undefined when they cannot be compared. */
function order(a: Value, b: Value): number | undefined {
  if (a.t === 'instant' || b.t === 'instant') {
    const x = timeOf(a);
    const y = timeOf(b);
    return x === undefined || y === undefined ? undefined : sign(x - y);
  }
  if (a.t === 'string' && b.t === 'string') {
    const x = parseInstant(a.s);
    const y = parseInstant(b.s);
    if (x !== undefined && y !== undefined) return sign(x - y);
    return compareText(a.s, b.s);
  }
  if (a.t === 'number' && b.t === 'number') {
    return Number.isNaN(a.n) || Number.isNaN(b.n) ? undefined : sign(a.n - b.n);
  }
  if (a.t === 'boolean' && b.t === 'boolean') return sign(Number(a.b) - Number(b.b));
  return undefined;
}

function compare(op: ComparisonOperator, a: Value, b: Value): boolean {
  if (a.t === 'null' || b.t === 'null') {
    const bothNull = a.t === 'null' && b.t === 'null';
    if (op === 'eq') return bothNull;
    if (op === 'ne') return !bothNull;
    return false;
  }
  const c = order(a, b);
  if (c === undefined) return op === 'ne';
  switch (op) {
    case 'eq':
      return c === 0;
    case 'ne':
      return c !== 0;
    case 'gt':
      return c > 0;
    case 'ge':
      return c >= 0;
    case 'lt':
      return c < 0;
    case 'le':
      return c <= 0;
  }
}

/** What a filter is evaluated against beside the row: the instant of the read, for relative functions. */
export interface FilterContext {
  /** Epoch milliseconds of the read's as-of instant (LastXDays, Today, ... count from it). */
  readonly now?: number;
}

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
const startOfDay = (ms: number) => Math.floor(ms / DAY_MS) * DAY_MS;

/**
 * Dataverse's query functions, on UTC days (rekey's instants are UTC):
 * On: the same day; OnOrBefore: up to the end of that day; OnOrAfter: from its start;
 * LastXDays: from the start of the day X days before the read's day up to the read's instant;
 * NextXDays: from the read's instant to the end of the day X days after; Last/NextXHours: X hours
 * either side; Today/Yesterday/Tomorrow: the read's day, the one before, the one after;
 * In/NotIn: equal to one of the values / to none. A relative function without an instant, or on a
 * column that holds no instant, is false.
 */
function evaluateQuery(ast: Extract<FilterAst, { kind: 'query' }>, row: Row, context: FilterContext): boolean {
  const raw = Object.prototype.hasOwnProperty.call(row, ast.column) ? row[ast.column] : undefined;
  const cell = fromRow(raw);
  if (ast.name === 'In' || ast.name === 'NotIn') {
    const found = ast.values.some((value) => compare('eq', cell, resolve(value, row)));
    return ast.name === 'In' ? found : cell.t !== 'null' && !found;
  }
  const at = timeOf(cell);
  if (at === undefined) return false;
  const value = ast.values[0];
  const given = value === undefined ? undefined : value.type === 'instant' ? value.time : value.type === 'string' ? parseInstantLiteral(value.value) : value.type === 'number' ? value.value : undefined;
  const now = context.now;
  switch (ast.name) {
    case 'On':
      return given !== undefined && startOfDay(at) === startOfDay(given);
    case 'OnOrBefore':
      return given !== undefined && at < startOfDay(given) + DAY_MS;
    case 'OnOrAfter':
      return given !== undefined && at >= startOfDay(given);
    case 'LastXDays':
      return now !== undefined && given !== undefined && at >= startOfDay(now) - given * DAY_MS && at <= now;
    case 'NextXDays':
      return now !== undefined && given !== undefined && at >= now && at < startOfDay(now) + (given + 1) * DAY_MS;
    case 'LastXHours':
      return now !== undefined && given !== undefined && at >= now - given * HOUR_MS && at <= now;
    case 'NextXHours':
      return now !== undefined && given !== undefined && at >= now && at <= now + given * HOUR_MS;
    case 'Today':
      return now !== undefined && startOfDay(at) === startOfDay(now);
    case 'Yesterday':
      return now !== undefined && startOfDay(at) === startOfDay(now) - DAY_MS;
    case 'Tomorrow':
      return now !== undefined && startOfDay(at) === startOfDay(now) + DAY_MS;
  }
}

export function evaluateFilter(ast: FilterAst, row: Row, context: FilterContext = {}): boolean {
  switch (ast.kind) {
    case 'and':
      return ast.operands.every((operand) => evaluateFilter(operand, row, context));
    case 'or':
      return ast.operands.some((operand) => evaluateFilter(operand, row, context));
    case 'not':
      return !evaluateFilter(ast.operand, row, context);
    case 'query':
      return evaluateQuery(ast, row, context);
    case 'compare':
      return compare(ast.op, resolve(ast.left, row), resolve(ast.right, row));
    case 'function': {
      const value = Object.prototype.hasOwnProperty.call(row, ast.column) ? row[ast.column] : undefined;
      if (typeof value !== 'string') return false;
      const haystack = value.toLowerCase();
      const needle = ast.value.toLowerCase();
      if (ast.name === 'contains') return haystack.includes(needle);
      if (ast.name === 'startswith') return haystack.startsWith(needle);
      return haystack.endsWith(needle);
    }
  }
}

/**
 * A comparator of rows on one column for $orderby: nulls first, then booleans (false < true),
 * numbers, instants, strings (case-insensitive), anything else. When every string the column holds
 * is an instant, they sort by time; otherwise as text, so the order is total and consistent.
 */
export function columnSortKeys(rows: readonly Row[], column: string): readonly SortKey[] {
  const values = rows.map((row) => (Object.prototype.hasOwnProperty.call(row, column) ? row[column] : undefined));
  const strings = values.filter((value): value is string => typeof value === 'string');
  const instantMode = strings.length > 0 && strings.every((value) => parseInstant(value) !== undefined);
  return values.map((value) => sortKey(value, instantMode));
}

export interface SortKey {
  readonly rank: number;
  readonly key: number | string;
}

function sortKey(value: unknown, instantMode: boolean): SortKey {
  const v = fromRow(value);
  switch (v.t) {
    case 'null':
      return { rank: 0, key: 0 };
    case 'boolean':
      return { rank: 1, key: Number(v.b) };
    case 'number':
      return Number.isNaN(v.n) ? { rank: 0, key: 0 } : { rank: 2, key: v.n };
    case 'instant':
      return { rank: 3, key: v.ms };
    case 'string':
      return instantMode ? { rank: 3, key: parseInstant(v.s) ?? 0 } : { rank: 4, key: v.s.toLowerCase() };
    case 'other': {
      let text: string;
      try {
        text = JSON.stringify(value) ?? String(value);
      } catch {
        text = '';
      }
      return { rank: 5, key: text.toLowerCase() };
    }
  }
}

export function compareSortKeys(a: SortKey, b: SortKey): number {
  if (a.rank !== b.rank) return a.rank - b.rank;
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}
