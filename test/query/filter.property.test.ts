/**
 * Properties of the $filter parser and evaluator:
 * (1) on random rows and random filter trees printed to text, the evaluator agrees with a reference
 *     predicate written here, evaluated on the generated tree itself;
 * (2) parsing any text either returns or throws a RekeyError of kind 'validation', never anything else.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isRekeyError, RekeyError } from '../../src/kernel/errors.js';
import { evaluateFilter, parseFilter, parseOrderBy, parseSelect, runQuery, type Row } from '../../src/query/index.js';

const RUNS = 1000;

// ---- a small fixed schema --------------------------------------------------------------------
type ColumnType = 'string' | 'integer' | 'decimal' | 'instant' | 'boolean';
const SCHEMA: Record<string, { type: ColumnType; nullable: boolean }> = {
  name: { type: 'string', nullable: false },
  note: { type: 'string', nullable: true },
  statecode: { type: 'integer', nullable: false },
  score: { type: 'decimal', nullable: true },
  createdon: { type: 'instant', nullable: false },
  lastheartbeatdate: { type: 'instant', nullable: true },
  enabled: { type: 'boolean', nullable: true },
};
const COLUMNS = Object.keys(SCHEMA);
const INSTANT_COLUMNS = new Set(COLUMNS.filter((c) => SCHEMA[c]?.type === 'instant'));

// Text without digits, so no generated name is ever an instant; quotes and case to test escapes
// and case-insensitivity.
const TEXT_UNIT = fc.constantFrom('a', 'A', 'b', 'B', "'", ' ', 'é', 'É', '(', ')', '-', 'ß', 'İ');
const text = fc.string({ unit: TEXT_UNIT, maxLength: 4 });

// ---- instants, written in several ISO forms ---------------------------------------------------
const BASE = Date.UTC(2026, 0, 1);
const STEP = 30 * 60_000;
const pad = (n: number, width = 2) => String(n).padStart(width, '0');

function formatInstant(ms: number, form: 'ms' | 'plain' | 'plus2' | 'minus0530' | 'minutes'): string {
  const offset = form === 'plus2' ? 120 : form === 'minus0530' ? -330 : 0;
  const d = new Date(ms + offset * 60_000);
  const date = `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
  const hm = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
  const seconds = pad(d.getUTCSeconds());
  switch (form) {
    case 'ms':
      return `${date}T${hm}:${seconds}.${pad(d.getUTCMilliseconds(), 3)}Z`;
    case 'plain':
      return `${date}T${hm}:${seconds}Z`;
    case 'minutes':
      return `${date}T${hm}Z`;
    case 'plus2':
      return `${date}T${hm}:${seconds}+02:00`;
    case 'minus0530':
      return `${date}T${hm}:${seconds}-05:30`;
  }
}
const instantForm = fc.constantFrom('ms', 'plain', 'plus2', 'minus0530', 'minutes') as fc.Arbitrary<
  'ms' | 'plain' | 'plus2' | 'minus0530' | 'minutes'
>;
const instantMs = fc.integer({ min: -1, max: 6 }).map((k) => BASE + k * STEP);
const instantString = fc.tuple(instantMs, instantForm).map(([ms, form]) => formatInstant(ms, form));

// ---- rows --------------------------------------------------------------------------------------
const nullable = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: null, freq: 4 });
const rowArb: fc.Arbitrary<Row> = fc.record({
  name: text,
  note: nullable(text),
  statecode: fc.integer({ min: -3, max: 3 }),
  score: nullable(fc.integer({ min: -6, max: 6 }).map((x) => x / 2)),
  createdon: instantString,
  lastheartbeatdate: nullable(instantString),
  enabled: nullable(fc.boolean()),
});

// ---- generated filter trees ------------------------------------------------------------------
type Lit =
  | { t: 'string'; s: string; ms?: number } // ms: the quoted string is an instant
  | { t: 'number'; n: number }
  | { t: 'instant'; ms: number; text: string } // unquoted
  | { t: 'boolean'; b: boolean }
  | { t: 'null' };
type Op = 'eq' | 'ne' | 'gt' | 'ge' | 'lt' | 'le';
type Node =
  | { k: 'cmp'; col: string; op: Op; lit: Lit; flipped: boolean }
  | { k: 'cols'; a: string; op: Op; b: string }
  | { k: 'fn'; fn: 'contains' | 'startswith' | 'endswith'; col: string; s: string }
  | { k: 'not'; a: Node; paren: boolean }
  | { k: 'and' | 'or'; a: Node; b: Node; paren: boolean };

const op = fc.constantFrom<Op>('eq', 'ne', 'gt', 'ge', 'lt', 'le');
const stringLit = text.map((s): Lit => ({ t: 'string', s }));
const numberLit = fc.oneof(fc.integer({ min: -4, max: 4 }), fc.integer({ min: -8, max: 8 }).map((x) => x / 2)).map((n): Lit => ({ t: 'number', n }));
const instantLit = fc.oneof(
  fc.tuple(instantMs, instantForm).map(([ms, form]): Lit => ({ t: 'instant', ms, text: formatInstant(ms, form) })),
  fc.constantFrom<Lit>({ t: 'instant', ms: BASE, text: '2026-01-01' }, { t: 'instant', ms: BASE + 86_400_000, text: '2026-01-02' }),
);
const quotedInstantLit = fc.tuple(instantMs, instantForm).map(([ms, form]): Lit => ({ t: 'string', s: formatInstant(ms, form), ms }));
const booleanLit = fc.boolean().map((b): Lit => ({ t: 'boolean', b }));
const nullLit = fc.constant<Lit>({ t: 'null' });
const anyLit = fc.oneof(stringLit, numberLit, instantLit, quotedInstantLit, booleanLit, nullLit);

function literalFor(column: string): fc.Arbitrary<Lit> {
  const type = SCHEMA[column]?.type;
  const matching =
    type === 'string' ? stringLit
    : type === 'integer' || type === 'decimal' ? numberLit
    : type === 'instant' ? fc.oneof(instantLit, quotedInstantLit)
    : booleanLit;
  return fc.oneof({ arbitrary: matching, weight: 6 }, { arbitrary: nullLit, weight: 2 }, { arbitrary: anyLit, weight: 2 });
}

const column = fc.constantFrom(...COLUMNS);
const cmpNode = column.chain((col) =>
  fc.record({ k: fc.constant('cmp' as const), col: fc.constant(col), op, lit: literalFor(col), flipped: fc.boolean() }),
);
const colsNode = fc.record({
  k: fc.constant('cols' as const),
  a: column,
  op,
  b: column,
});
const fnNode = fc.record({
  k: fc.constant('fn' as const),
  fn: fc.constantFrom('contains' as const, 'startswith' as const, 'endswith' as const),
  col: column,
  s: fc.oneof(text, fc.constantFrom('2026', 'T0', ':00Z', '+02', '.000')),
});

const { node: nodeArb } = fc.letrec<{ node: Node }>((tie) => ({
  node: fc.oneof(
    { maxDepth: 5, depthIdentifier: 'filter' },
    { arbitrary: fc.oneof({ arbitrary: cmpNode, weight: 6 }, { arbitrary: colsNode, weight: 1 }, { arbitrary: fnNode, weight: 2 }), weight: 3 },
    { arbitrary: fc.record({ k: fc.constant('not' as const), a: tie('node'), paren: fc.boolean() }), weight: 1 },
    { arbitrary: fc.record({ k: fc.constantFrom('and' as const, 'or' as const), a: tie('node'), b: tie('node'), paren: fc.boolean() }), weight: 3 },
  ),
}));

// ---- printing ------------------------------------------------------------------------------------
function printLit(lit: Lit): string {
  switch (lit.t) {
    case 'string':
      return `'${lit.s.replaceAll("'", "''")}'`;
    case 'number':
      return String(lit.n);
    case 'instant':
      return lit.text;
    case 'boolean':
      return String(lit.b);
    case 'null':
      return 'null';
  }
}

const PRECEDENCE = { or: 1, and: 2, not: 3 } as const;
function precedence(node: Node): number {
  return node.k === 'or' || node.k === 'and' || node.k === 'not' ? PRECEDENCE[node.k] : 4;
}
function wrap(node: Node, min: number): string {
  const s = print(node);
  return precedence(node) < min || ('paren' in node && node.paren) ? `(${s})` : s;
}
function print(node: Node): string {
  switch (node.k) {
    case 'cmp':
      return node.flipped ? `${printLit(node.lit)} ${node.op} ${node.col}` : `${node.col} ${node.op} ${printLit(node.lit)}`;
    case 'cols':
      return `${node.a} ${node.op} ${node.b}`;
    case 'fn':
      return `${node.fn}(${node.col},${printLit({ t: 'string', s: node.s })})`;
    case 'not':
      return `not ${wrap(node.a, 3)}`;
    case 'and':
    case 'or':
      return `${wrap(node.a, PRECEDENCE[node.k])} ${node.k} ${wrap(node.b, PRECEDENCE[node.k])}`;
  }
}

// ---- the reference predicate ---------------------------------------------------------------------
// Values as the reference sees them: a row's instant column holds a string that is an instant (its
// time known from the generator, never parsed); other strings are plain text.
type RefValue = null | Lit;

function rowValue(row: Row, col: string): RefValue {
  const v = row[col];
  if (v === null || v === undefined) return null;
  if (typeof v === 'number') return { t: 'number', n: v };
  if (typeof v === 'boolean') return { t: 'boolean', b: v };
  if (typeof v === 'string') return INSTANT_COLUMNS.has(col) ? { t: 'string', s: v, ms: instantTimes.get(v) as number } : { t: 'string', s: v };
  throw new Error(`unexpected value ${String(v)}`);
}

// Every instant string the generator can produce, with its time, computed from the generator's
// own inputs rather than by parsing.
const instantTimes = new Map<string, number>();
for (let k = -1; k <= 6; k++) {
  for (const form of ['ms', 'plain', 'plus2', 'minus0530', 'minutes'] as const) instantTimes.set(formatInstant(BASE + k * STEP, form), BASE + k * STEP);
}

function lower(s: string): string {
  return s.toLowerCase();
}

/** -1, 0, 1, or undefined when the two values cannot be ordered. */
function refOrder(x: Lit, y: Lit): number | undefined {
  const cmp = (a: number | string, b: number | string) => (a < b ? -1 : a > b ? 1 : 0);
  if (x.t === 'instant' || y.t === 'instant') {
    const tx = x.t === 'instant' || x.t === 'string' ? x.ms : undefined;
    const ty = y.t === 'instant' || y.t === 'string' ? y.ms : undefined;
    return tx === undefined || ty === undefined ? undefined : cmp(tx, ty);
  }
  if (x.t === 'string' && y.t === 'string') {
    if (x.ms !== undefined && y.ms !== undefined) return cmp(x.ms, y.ms);
    return cmp(lower(x.s), lower(y.s));
  }
  if (x.t === 'number' && y.t === 'number') return cmp(x.n, y.n);
  if (x.t === 'boolean' && y.t === 'boolean') return cmp(Number(x.b), Number(y.b));
  return undefined;
}

function refCompare(op: Op, x: RefValue, y: RefValue): boolean {
  const xNull = x === null || x.t === 'null';
  const yNull = y === null || y.t === 'null';
  if (xNull || yNull) {
    if (op === 'eq') return xNull && yNull;
    if (op === 'ne') return !(xNull && yNull);
    return false;
  }
  const c = refOrder(x as Lit, y as Lit);
  if (c === undefined) return op === 'ne';
  return { eq: c === 0, ne: c !== 0, gt: c > 0, ge: c >= 0, lt: c < 0, le: c <= 0 }[op];
}

function reference(node: Node, row: Row): boolean {
  switch (node.k) {
    case 'cmp':
      return node.flipped ? refCompare(node.op, node.lit, rowValue(row, node.col)) : refCompare(node.op, rowValue(row, node.col), node.lit);
    case 'cols':
      return refCompare(node.op, rowValue(row, node.a), rowValue(row, node.b));
    case 'fn': {
      const v = row[node.col];
      if (typeof v !== 'string') return false;
      const [h, n] = [lower(v), lower(node.s)];
      return node.fn === 'contains' ? h.includes(n) : node.fn === 'startswith' ? h.startsWith(n) : h.endsWith(n);
    }
    case 'not':
      return !reference(node.a, row);
    case 'and':
      return reference(node.a, row) && reference(node.b, row);
    case 'or':
      return reference(node.a, row) || reference(node.b, row);
  }
}

describe('property: the evaluator agrees with the reference predicate', () => {
  it('on random filters and rows', () => {
    fc.assert(
      fc.property(nodeArb, fc.array(rowArb, { minLength: 1, maxLength: 6 }), (node, rows) => {
        const filter = print(node);
        const ast = parseFilter(filter, COLUMNS, 'machines');
        const expected = rows.map((row) => reference(node, row));
        expect(rows.map((row) => evaluateFilter(ast, row))).toEqual(expected);
        const result = runQuery({ table: 'machines', rows, columns: COLUMNS, filter, top: 1, count: true });
        expect(result.count).toBe(expected.filter(Boolean).length);
        expect(result.value).toHaveLength(Math.min(1, result.count ?? 0));
      }),
      { numRuns: RUNS },
    );
  });

  it('orders rows consistently with the reference order, nulls first on asc', () => {
    const sortable = fc.constantFrom('name', 'note', 'statecode', 'score', 'createdon', 'lastheartbeatdate', 'enabled');
    fc.assert(
      fc.property(fc.array(rowArb, { maxLength: 8 }), sortable, fc.boolean(), (rows, col, desc) => {
        const { value } = runQuery({ table: 'machines', rows, columns: COLUMNS, orderby: `${col}${desc ? ' desc' : ''}` });
        expect(value).toHaveLength(rows.length);
        for (let i = 1; i < value.length; i++) {
          const [a, b] = [rowValue(value[i - 1] as Row, col), rowValue(value[i] as Row, col)];
          // nulls are the smallest values
          const c = a === null ? (b === null ? 0 : -1) : b === null ? 1 : (refOrder(a, b) as number);
          expect(desc ? -c : c).toBeLessThanOrEqual(0);
        }
      }),
      { numRuns: 300 },
    );
  });
});

// ---- (2) any input: a result or a RekeyError --------------------------------------------------
const TOKENS = [
  ...COLUMNS,
  'foo', 'Name', 'and', 'or', 'not', 'eq', 'ne', 'gt', 'ge', 'lt', 'le', 'asc', 'desc',
  'contains', 'startswith', 'endswith', 'tolower', 'true', 'false', 'null',
  '(', ')', ',', '*', "'", "''", "'x'", "'a''b'", "'it's'", '0', '1', '-1', '1.5', '-0.25', '1e3', '1e999', '1.', '-', '12abc',
  '2026-01-01T00:00:00Z', '2026-01-01T00:00:00.123+02:00', '2026-01-01', '2026-13-01T00:00:00Z', '2026-01-01T00:00:00', '2026-02-30',
  '0f8fad5b-d9cb-469f-a165-70867728950e', '@', '/', '.', '$', '\u0000', '\u{1F600}', '\uD800', '\t', '\n',
];
const tokenText = fc
  .tuple(fc.array(fc.constantFrom(...TOKENS), { maxLength: 14 }), fc.constantFrom(' ', '', '  ', '\t'))
  .map(([tokens, sep]) => tokens.join(sep));
const anyText = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }), // fast-check 4's fullUnicodeString
  fc.string({ unit: 'grapheme' }),
  fc.string({ unit: fc.constantFrom('(', ')', "'", ' ', 'a', 'n', 'd', 'o', 'r', 'e', 'q', '1', '-', ':', 'T', 'Z', ',') }),
  { arbitrary: tokenText, weight: 4 },
);

function codePoints(s: string): number {
  return Array.from(s).length;
}

function checkOutcome(text: string, run: () => unknown): void {
  let result: unknown;
  try {
    result = run();
  } catch (error) {
    expect(error).toBeInstanceOf(RekeyError);
    expect(isRekeyError(error)).toBe(true);
    const e = error as RekeyError;
    expect(e.kind).toBe('validation');
    expect(['ODATA_SYNTAX', 'ODATA_UNKNOWN_COLUMN']).toContain(e.code);
    if (e.code === 'ODATA_SYNTAX') {
      const position = e.details['position'];
      expect(typeof position).toBe('number');
      expect(position).toBeGreaterThanOrEqual(1);
      expect(position).toBeLessThanOrEqual(codePoints(text) + 1);
      expect(e.message).toContain(`at position ${String(position)}`);
    } else {
      expect(e.message).toMatch(/^unknown column '[^']*' in machines; columns are: name, note, statecode/);
    }
    return;
  }
  expect(result).toBeDefined();
}

describe('property: parsing never throws anything but a RekeyError', () => {
  const row: Row = { name: 'a', note: null, statecode: 1, score: 0.5, createdon: '2026-01-01T00:00:00Z', lastheartbeatdate: null, enabled: true };

  it('$filter on arbitrary text', () => {
    fc.assert(
      fc.property(anyText, (text) => {
        checkOutcome(text, () => {
          const ast = parseFilter(text, COLUMNS, 'machines');
          expect(typeof evaluateFilter(ast, row)).toBe('boolean');
          return ast;
        });
      }),
      { numRuns: RUNS },
    );
  });

  it('$filter on printed trees with stray tokens spliced in', () => {
    fc.assert(
      fc.property(nodeArb, fc.nat(), fc.constantFrom(...TOKENS), (node, at, token) => {
        const printed = print(node);
        const index = at % (printed.length + 1);
        const text = printed.slice(0, index) + token + printed.slice(index);
        checkOutcome(text, () => parseFilter(text, COLUMNS, 'machines'));
      }),
      { numRuns: RUNS },
    );
  });

  it('$select and $orderby on arbitrary text', () => {
    fc.assert(
      fc.property(anyText, (text) => {
        checkOutcome(text, () => parseSelect(text, COLUMNS, 'machines'));
        checkOutcome(text, () => parseOrderBy(text, COLUMNS, 'machines'));
      }),
      { numRuns: RUNS },
    );
  });
});
