/** Parsers of $select, $orderby, $top and $count. Every failure is a RekeyError of kind 'validation'. */
import { RekeyError } from '../kernel/errors.js';
import { tableColumns } from './columns.js';
import {
  ODATA_INVALID_COUNT,
  ODATA_INVALID_TOP,
  ODATA_SYNTAX,
  syntaxError,
  unknownColumnError,
  type QueryOption,
} from './errors.js';
import { describeToken, shorten, tokenize, type Token } from './tokenizer.js';

export type SortDirection = 'asc' | 'desc';

export interface OrderByItem {
  readonly column: string;
  readonly direction: SortDirection;
}

function requireText(option: QueryOption, text: unknown): string {
  if (typeof text !== 'string') {
    throw new RekeyError(ODATA_SYNTAX, `${option}: expected text, found ${typeof text}`, { option }, 'validation');
  }
  return text;
}

class ListReader {
  private next = 0;
  readonly tokens: readonly Token[];
  readonly known: ReadonlySet<string>;

  constructor(
    readonly option: QueryOption,
    readonly text: string,
    readonly columns: readonly string[],
    readonly table: string | undefined,
  ) {
    this.tokens = tokenize(text);
    this.known = new Set(columns);
  }

  peek(): Token {
    return this.tokens[Math.min(this.next, this.tokens.length - 1)] as Token;
  }

  take(): Token {
    const token = this.peek();
    if (this.next < this.tokens.length - 1) this.next++;
    return token;
  }

  fail(expected: string, found: Token, after?: Token): RekeyError {
    return syntaxError(this.option, this.text, found.index, expected, describeToken(found), after === undefined ? undefined : describeToken(after));
  }

  /** A known column name, taken. */
  column(after: Token | undefined): string {
    const token = this.peek();
    if (token.type !== 'identifier') throw this.fail('a column name', token, after);
    if (!this.known.has(token.text)) {
      throw unknownColumnError(this.option, token.text, this.columns, this.table, this.text, token.index);
    }
    this.take();
    return token.text;
  }
}

/**
 * `$select=name,statecode`: the selected columns, validated, in the order given (duplicates dropped).
 * `*` selects every column. An array is taken as its elements joined with commas.
 */
export function parseSelect(text: string | readonly string[], columns: readonly string[], table?: string): string[] {
  const source = requireText('$select', Array.isArray(text) ? text.join(',') : text);
  const known = tableColumns(columns);
  const reader = new ListReader('$select', source, known, table);
  const selected: string[] = [];
  let after: Token | undefined;
  for (;;) {
    const token = reader.peek();
    if (token.type === '*') {
      reader.take();
      selected.push(...known);
    } else {
      selected.push(reader.column(after));
    }
    const separator = reader.peek();
    if (separator.type === 'end') break;
    if (separator.type !== ',') throw reader.fail("',' or end of input", separator, token);
    after = reader.take();
  }
  return [...new Set(selected)];
}

/** `$orderby=statecode desc,name`: the sort keys, validated; the direction defaults to asc. */
export function parseOrderBy(text: string, columns: readonly string[], table?: string): OrderByItem[] {
  const source = requireText('$orderby', text);
  const reader = new ListReader('$orderby', source, tableColumns(columns), table);
  const items: OrderByItem[] = [];
  let after: Token | undefined;
  for (;;) {
    const columnToken = reader.peek();
    const column = reader.column(after);
    let direction: SortDirection = 'asc';
    let last = columnToken;
    const word = reader.peek();
    if (word.type === 'identifier' && (word.text === 'asc' || word.text === 'desc')) {
      direction = word.text;
      last = reader.take();
    }
    items.push({ column, direction });
    const separator = reader.peek();
    if (separator.type === 'end') break;
    if (separator.type !== ',') {
      throw reader.fail(last === columnToken ? "'asc', 'desc', ',' or end of input" : "',' or end of input", separator, last);
    }
    after = reader.take();
  }
  return items;
}

function display(value: unknown): string {
  if (typeof value === 'string') return `'${shorten(value)}'`;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return value === null ? 'null' : typeof value;
}

/** `$top`: a positive integer, given as a number or as decimal digits. */
export function parseTop(value: number | string): number {
  let top: number | undefined;
  if (typeof value === 'number') top = value;
  else if (typeof value === 'string' && /^\s*\d+\s*$/.test(value)) top = Number(value.trim());
  if (top !== undefined && Number.isSafeInteger(top) && top > 0) return top;
  throw new RekeyError(
    ODATA_INVALID_TOP,
    `$top: expected a positive integer, found ${display(value)}`,
    { option: '$top', value: typeof value === 'string' || typeof value === 'number' ? value : String(typeof value) },
    'validation',
  );
}

/** `$count`: true or false, as a boolean or as text. */
export function parseCount(value: boolean | string): boolean {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') {
    const word = value.trim().toLowerCase();
    if (word === 'true') return true;
    if (word === 'false') return false;
  }
  throw new RekeyError(
    ODATA_INVALID_COUNT,
    `$count: expected true or false, found ${display(value)}`,
    { option: '$count', value: typeof value === 'string' ? value : String(typeof value) },
    'validation',
  );
}
