import { describe, expect, it } from 'vitest';
import { isRekeyError, type RekeyError } from '../../src/kernel/errors.js';
import { evaluateFilter, filterColumns, MAX_FILTER_DEPTH, parseFilter, type Row } from '../../src/query/index.js';

const COLUMNS = [
  'flowmachineid',
  'name',
  'agentversion',
  '_flowmachinegroupid_value',
  'keydeliverystatus',
  'keydeliverystatus@OData.Community.Display.V1.FormattedValue',
  'keyreceiveddate',
  'lastheartbeatdate',
  'statecode',
  'score',
  'enabled',
  'createdon',
];
const VALID = COLUMNS.filter((c) => !c.includes('@'));

const ROW: Row = {
  flowmachineid: '0f8fad5b-d9cb-469f-a165-70867728950e',
  name: "FIN-01 O'Brien",
  agentversion: '2.23.116.23040',
  _flowmachinegroupid_value: '7C9E6679-7425-40DE-944B-E07FC1F90AE7',
  keydeliverystatus: 2,
  'keydeliverystatus@OData.Community.Display.V1.FormattedValue': 'PendingNewKey',
  keyreceiveddate: null,
  lastheartbeatdate: '2026-03-01T12:00:00.000Z',
  statecode: 0,
  score: -1.5,
  enabled: true,
  createdon: '2026-01-01T00:00:00Z',
};

function matches(filter: string, row: Row = ROW): boolean {
  return evaluateFilter(parseFilter(filter, COLUMNS, 'flowmachines'), row);
}

function failure(filter: string): RekeyError {
  try {
    parseFilter(filter, COLUMNS, 'flowmachines');
  } catch (error) {
    expect(isRekeyError(error)).toBe(true);
    const e = error as RekeyError;
    expect(e.kind).toBe('validation');
    expect(e.exitCode).toBe(2);
    expect(e.httpStatus).toBe(400);
    return e;
  }
  throw new Error(`expected ${filter} to fail`);
}

describe('comparison operators', () => {
  it.each([
    ['statecode eq 0', true],
    ['statecode eq 1', false],
    ['statecode ne 0', false],
    ['statecode ne 1', true],
    ['keydeliverystatus gt 1', true],
    ['keydeliverystatus gt 2', false],
    ['keydeliverystatus ge 2', true],
    ['keydeliverystatus ge 3', false],
    ['keydeliverystatus lt 3', true],
    ['keydeliverystatus lt 2', false],
    ['keydeliverystatus le 2', true],
    ['keydeliverystatus le 1', false],
  ])('%s is %s', (filter, expected) => {
    expect(matches(filter)).toBe(expected);
  });

  it('compares decimals and negative numbers', () => {
    expect(matches('score eq -1.5')).toBe(true);
    expect(matches('score lt -1.25')).toBe(true);
    expect(matches('score gt -2')).toBe(true);
    expect(matches('score ge 0')).toBe(false);
    expect(matches('score gt -1.5e0')).toBe(false);
  });

  it('accepts a literal on the left and compares two columns', () => {
    expect(matches('2 eq keydeliverystatus')).toBe(true);
    expect(matches('1 lt keydeliverystatus')).toBe(true);
    expect(matches('keydeliverystatus gt statecode')).toBe(true);
    expect(matches('lastheartbeatdate gt createdon')).toBe(true);
  });

  it('compares booleans', () => {
    expect(matches('enabled eq true')).toBe(true);
    expect(matches('enabled eq false')).toBe(false);
    expect(matches('enabled ne false')).toBe(true);
  });

  it('never equates values of different types', () => {
    expect(matches("statecode eq '0'")).toBe(false);
    expect(matches("statecode ne '0'")).toBe(true);
    expect(matches("statecode lt 'a'")).toBe(false);
    expect(matches('name eq 0')).toBe(false);
    expect(matches('enabled eq 1')).toBe(false);
    expect(matches('name gt 2026-01-01T00:00:00Z')).toBe(false);
    expect(matches('name ne 2026-01-01T00:00:00Z')).toBe(true);
  });
});

describe('strings', () => {
  it('compares case-insensitively', () => {
    expect(matches("name eq 'fin-01 o''brien'")).toBe(true);
    expect(matches("name eq 'FIN-01 O''BRIEN'")).toBe(true);
    expect(matches("agentversion gt '2.22'")).toBe(true);
    expect(matches("name lt 'FIN-02'")).toBe(true);
    expect(matches("name gt 'fin-00'")).toBe(true);
  });

  it("reads '' as an escaped quote", () => {
    expect(parseFilter("name eq 'O''Brien'", COLUMNS)).toEqual({
      kind: 'compare',
      op: 'eq',
      left: { kind: 'column', name: 'name' },
      right: { kind: 'literal', type: 'string', value: "O'Brien" },
    });
    expect(parseFilter("name eq ''''", COLUMNS)).toMatchObject({ right: { value: "'" } });
    expect(parseFilter("name eq ''", COLUMNS)).toMatchObject({ right: { value: '' } });
    expect(matches("contains(name,'o''b')")).toBe(true);
    expect(matches("name eq 'O'")).toBe(false);
  });

  it('keeps operators and parentheses inside strings as text', () => {
    expect(parseFilter("name eq 'a and (b or c) eq ''d'''", COLUMNS)).toMatchObject({
      right: { value: "a and (b or c) eq 'd'" },
    });
  });

  it.each([
    ["contains(name,'01 o')", true],
    ["contains(name,'BRIEN')", true],
    ["contains(name,'x')", false],
    ["contains(name,'')", true],
    ["startswith(name,'fin')", true],
    ["startswith(name,'01')", false],
    ["endswith(name,'BRIEN')", true],
    ["endswith(name,'FIN')", false],
    ["contains(agentversion, '.116.')", true],
    ["contains(keyreceiveddate,'')", false],
    ["contains(statecode,'0')", false],
    ["startswith(createdon,'2026-01')", true],
  ])('%s is %s', (filter, expected) => {
    expect(matches(filter)).toBe(expected);
  });

  it('accepts unquoted GUIDs and compares them case-insensitively', () => {
    expect(matches('_flowmachinegroupid_value eq 7c9e6679-7425-40de-944b-e07fc1f90ae7')).toBe(true);
    expect(matches('flowmachineid eq 0F8FAD5B-D9CB-469F-A165-70867728950E')).toBe(true);
    expect(matches('flowmachineid ne 0f8fad5b-d9cb-469f-a165-70867728950f')).toBe(true);
  });
});

describe('instants', () => {
  it('parses unquoted instants and compares them chronologically', () => {
    expect(parseFilter('createdon eq 2026-01-01T00:00:00Z', COLUMNS)).toMatchObject({
      right: { kind: 'literal', type: 'instant', value: '2026-01-01T00:00:00Z', time: Date.UTC(2026, 0, 1) },
    });
    expect(matches('createdon eq 2026-01-01T00:00:00Z')).toBe(true);
    expect(matches('createdon eq 2026-01-01T00:00:00.000Z')).toBe(true);
    expect(matches('createdon eq 2026-01-01T01:00:00+01:00')).toBe(true);
    expect(matches('createdon eq 2025-12-31T19:00-05:00')).toBe(true);
    expect(matches('createdon lt 2026-01-01T00:00:00.001Z')).toBe(true);
    expect(matches('createdon gt 2025-12-31T23:59:59.999Z')).toBe(true);
    expect(matches('createdon ge 2026-01-01T00:00:00Z and createdon le 2026-01-01T00:00:00Z')).toBe(true);
  });

  it('compares by time, not text, when the row holds another ISO form', () => {
    // As text '2026-03-01T12:00:00.000Z' < '2026-03-01T12:00:00Z'; as instants they are equal.
    expect(matches('lastheartbeatdate eq 2026-03-01T12:00:00Z')).toBe(true);
    expect(matches('lastheartbeatdate ge 2026-03-01T12:00:00Z')).toBe(true);
    expect(matches('lastheartbeatdate eq 2026-03-01T13:00:00+01:00')).toBe(true);
    expect(matches('lastheartbeatdate gt 2026-03-01T13:00:00Z', { lastheartbeatdate: '2026-03-01T13:00:00+01:00' })).toBe(false);
    expect(matches('lastheartbeatdate lt 2026-03-01T13:00:00Z', { lastheartbeatdate: '2026-03-01T13:00:00+01:00' })).toBe(true);
  });

  it('compares quoted instants and instant columns by time', () => {
    expect(matches("createdon eq '2026-01-01T00:00:00.000Z'")).toBe(true);
    expect(matches('lastheartbeatdate gt createdon')).toBe(true);
    expect(matches('createdon lt lastheartbeatdate')).toBe(true);
  });

  it('takes a bare date as midnight UTC', () => {
    expect(matches('createdon eq 2026-01-01')).toBe(true);
    expect(matches('lastheartbeatdate gt 2026-03-01 and lastheartbeatdate lt 2026-03-02')).toBe(true);
  });

  it('accepts leap days and early years', () => {
    expect(parseFilter('createdon eq 2028-02-29T00:00:00Z', COLUMNS)).toMatchObject({ right: { time: Date.UTC(2028, 1, 29) } });
    expect(parseFilter('createdon eq 0050-01-01T00:00:00Z', COLUMNS)).toMatchObject({ right: { time: -60589296000000 } });
  });

  it('compares a Date in a row as an instant', () => {
    expect(matches('createdon eq 2026-01-01T00:00:00Z', { createdon: new Date(Date.UTC(2026, 0, 1)) })).toBe(true);
  });
});

describe('null', () => {
  it('tests for empty columns with eq null and ne null', () => {
    expect(matches('keyreceiveddate eq null')).toBe(true);
    expect(matches('keyreceiveddate ne null')).toBe(false);
    expect(matches('lastheartbeatdate eq null')).toBe(false);
    expect(matches('lastheartbeatdate ne null')).toBe(true);
    expect(matches('null eq keyreceiveddate')).toBe(true);
    expect(matches('null eq null')).toBe(true);
  });

  it('treats a missing key as null', () => {
    expect(matches('name eq null', {})).toBe(true);
    expect(matches("name ne 'x'", {})).toBe(true);
    expect(matches("name eq 'x'", {})).toBe(false);
  });

  it('makes every other comparison with null false', () => {
    for (const op of ['gt', 'ge', 'lt', 'le']) {
      expect(matches(`keyreceiveddate ${op} 2026-01-01T00:00:00Z`)).toBe(false);
      expect(matches(`statecode ${op} null`)).toBe(false);
      expect(matches(`keyreceiveddate ${op} null`)).toBe(false);
    }
    expect(matches('keyreceiveddate eq 2026-01-01T00:00:00Z')).toBe(false);
    expect(matches('keyreceiveddate ne 2026-01-01T00:00:00Z')).toBe(true);
    expect(matches('not (keyreceiveddate gt 2026-01-01T00:00:00Z)')).toBe(true);
  });
});

describe('logical operators and precedence', () => {
  const row = (a: number, b: number, c: number): Row => ({ statecode: a, keydeliverystatus: b, score: c });
  const f = (filter: string, r: Row) => matches(filter, r);

  it('and, or, not', () => {
    expect(f('statecode eq 1 and keydeliverystatus eq 2', row(1, 2, 0))).toBe(true);
    expect(f('statecode eq 1 and keydeliverystatus eq 2', row(1, 3, 0))).toBe(false);
    expect(f('statecode eq 1 or keydeliverystatus eq 2', row(0, 2, 0))).toBe(true);
    expect(f('statecode eq 1 or keydeliverystatus eq 2', row(0, 3, 0))).toBe(false);
    expect(f('not statecode eq 1', row(0, 0, 0))).toBe(true);
    expect(f('not not statecode eq 1', row(1, 0, 0))).toBe(true);
  });

  it('binds and tighter than or: a eq 1 or b eq 2 and c eq 3', () => {
    const filter = 'statecode eq 1 or keydeliverystatus eq 2 and score eq 3';
    expect(parseFilter(filter, COLUMNS)).toEqual({
      kind: 'or',
      operands: [
        { kind: 'compare', op: 'eq', left: { kind: 'column', name: 'statecode' }, right: { kind: 'literal', type: 'number', value: 1 } },
        {
          kind: 'and',
          operands: [
            { kind: 'compare', op: 'eq', left: { kind: 'column', name: 'keydeliverystatus' }, right: { kind: 'literal', type: 'number', value: 2 } },
            { kind: 'compare', op: 'eq', left: { kind: 'column', name: 'score' }, right: { kind: 'literal', type: 'number', value: 3 } },
          ],
        },
      ],
    });
    // a true, b and c false: (a or (b and c)) is true, ((a or b) and c) would be false.
    expect(f(filter, row(1, 0, 0))).toBe(true);
    expect(f('(statecode eq 1 or keydeliverystatus eq 2) and score eq 3', row(1, 0, 0))).toBe(false);
    expect(f('score eq 3 and keydeliverystatus eq 2 or statecode eq 1', row(1, 0, 0))).toBe(true);
  });

  it('binds not tighter than and and or', () => {
    const filter = 'not statecode eq 1 and keydeliverystatus eq 2';
    expect(parseFilter(filter, COLUMNS)).toMatchObject({ kind: 'and', operands: [{ kind: 'not' }, { kind: 'compare' }] });
    // not(a) and b, not not(a and b)
    expect(f(filter, row(1, 3, 0))).toBe(false);
    expect(f('not (statecode eq 1 and keydeliverystatus eq 2)', row(1, 3, 0))).toBe(true);
    expect(f('not statecode eq 1 or keydeliverystatus eq 2', row(1, 2, 0))).toBe(true);
  });

  it('flattens chains of and/or into one node', () => {
    const ast = parseFilter('statecode eq 1 and statecode eq 1 and statecode eq 1', COLUMNS);
    expect(ast).toMatchObject({ kind: 'and' });
    expect(ast.kind === 'and' && ast.operands.length).toBe(3);
  });

  it('evaluates a very long chain without recursion trouble', () => {
    const filter = Array.from({ length: 20_000 }, (_, i) => `statecode eq ${i}`).join(' or ');
    expect(matches(filter, { statecode: 19_999 })).toBe(true);
  });

  it('allows nesting up to the limit', () => {
    const deep = `${'('.repeat(MAX_FILTER_DEPTH)}statecode eq 0${')'.repeat(MAX_FILTER_DEPTH)}`;
    expect(matches(deep)).toBe(true);
    expect(matches(`${'not '.repeat(MAX_FILTER_DEPTH)}statecode eq 0`)).toBe(true);
  });

  it('accepts any whitespace and none around parentheses and commas', () => {
    expect(matches("(statecode\teq\n0)and(contains(name,'fin'))")).toBe(true);
    expect(matches("  not(statecode eq 1)  ")).toBe(true);
  });

  it('lists the columns a filter reads', () => {
    expect(filterColumns(parseFilter("name eq 'x' or (statecode gt keydeliverystatus and contains(agentversion,'2')) or name eq null", COLUMNS))).toEqual([
      'name',
      'statecode',
      'keydeliverystatus',
      'agentversion',
    ]);
  });
});

describe('columns', () => {
  it('treats _x_value lookup names as ordinary columns', () => {
    expect(parseFilter('_flowmachinegroupid_value ne null', COLUMNS)).toMatchObject({ left: { kind: 'column', name: '_flowmachinegroupid_value' } });
  });

  it('lets a table have a column named like a keyword or a function', () => {
    const columns = ['contains', 'not', 'null'];
    expect(evaluateFilter(parseFilter("contains eq 'x' and not eq 1 and null eq null", columns), { contains: 'X', not: 1, null: null })).toBe(true);
    expect(evaluateFilter(parseFilter("contains(contains,'x')", columns), { contains: 'axe' })).toBe(true);
  });
});

describe('errors', () => {
  const LIST =
    'flowmachineid, name, agentversion, _flowmachinegroupid_value, keydeliverystatus, keyreceiveddate, lastheartbeatdate, statecode, score, enabled, createdon';

  it('names an unknown column and lists the columns, annotations excluded', () => {
    const e = failure('foo eq 1');
    expect(e.code).toBe('ODATA_UNKNOWN_COLUMN');
    expect(e.message).toBe(`unknown column 'foo' in flowmachines; columns are: ${LIST}`);
    expect(e.details).toMatchObject({ option: '$filter', column: 'foo', table: 'flowmachines', position: 1, columns: VALID });
  });

  it.each([
    ["name eq 'a' or Name eq 'b'", 'Name', 16],
    ['statecode eq bar', 'bar', 14],
    ["contains(nme,'x')", 'nme', 10],
    ['statecode eq 0 and keydeliverystatus@OData eq 1', 'keydeliverystatus', 20],
  ])('%s: unknown column %s at %d', (filter, column, position) => {
    const e = failure(filter);
    if (column === 'keydeliverystatus') {
      // the column exists; the annotation suffix is a syntax error
      expect(e.code).toBe('ODATA_SYNTAX');
      expect(e.message).toBe(
        "$filter: expected a comparison operator (eq, ne, gt, ge, lt, le) after 'keydeliverystatus' at position 37, found an unexpected character '@'",
      );
      return;
    }
    expect(e.code).toBe('ODATA_UNKNOWN_COLUMN');
    expect(e.message).toBe(`unknown column '${column}' in flowmachines; columns are: ${LIST}`);
    expect(e.details['position']).toBe(position);
  });

  it('leaves the table out of the message when it is not given', () => {
    expect(() => parseFilter('foo eq 1', ['a', 'b'])).toThrow("unknown column 'foo'; columns are: a, b");
  });

  it.each([
    ['', '$filter: expected a condition at position 1, found end of input'],
    ['   ', '$filter: expected a condition at position 4, found end of input'],
    ['statecode eq', "$filter: expected a value after 'eq' at position 13, found end of input"],
    ['keydeliverystatus eq', "$filter: expected a value after 'eq' at position 21, found end of input"],
    ["name eq 'a' and statecode eq", "$filter: expected a value after 'eq' at position 29, found end of input"],
    ['statecode eq and', "$filter: expected a value after 'eq' at position 14, found 'and'"],
    ['statecode eq )', "$filter: expected a value after 'eq' at position 14, found ')'"],
    ['statecode', "$filter: expected a comparison operator (eq, ne, gt, ge, lt, le) after 'statecode' at position 10, found end of input"],
    ['statecode == 1', "$filter: expected a comparison operator (eq, ne, gt, ge, lt, le) after 'statecode' at position 11, found an unexpected character '='"],
    ['statecode EQ 1', "$filter: expected a comparison operator (eq, ne, gt, ge, lt, le) after 'statecode' at position 11, found 'EQ'"],
    ["'x' name", "$filter: expected a comparison operator (eq, ne, gt, ge, lt, le) after the string 'x' at position 5, found 'name'"],
    ['statecode eq 1 statecode eq 2', "$filter: expected 'and', 'or' or end of input at position 16, found 'statecode'"],
    ['statecode eq 1 eq 2', "$filter: expected 'and', 'or' or end of input at position 16, found 'eq'"],
    ['statecode eq 1)', "$filter: expected 'and', 'or' or end of input at position 15, found ')'"],
    ['statecode eq 1 and', "$filter: expected a condition after 'and' at position 19, found end of input"],
    ['statecode eq 1 or or statecode eq 2', "$filter: expected a condition after 'or' at position 19, found 'or'"],
    ['and statecode eq 1', "$filter: expected a condition at position 1, found 'and'"],
    ['not', "$filter: expected a condition after 'not' at position 4, found end of input"],
    ['()', "$filter: expected a condition after '(' at position 2, found ')'"],
    ['(statecode eq 1', "$filter: expected 'and', 'or' or ')' (to close the '(' at position 1) at position 16, found end of input"],
    ['((statecode eq 1) or (statecode eq 2)', "$filter: expected 'and', 'or' or ')' (to close the '(' at position 1) at position 38, found end of input"],
    ["name eq 'abc", "$filter: expected a value after 'eq' at position 9, found an unterminated string 'abc (a quote inside a string is written twice: '')"],
    ["name eq 'O'Brien'", "$filter: expected 'and', 'or' or end of input at position 12, found 'Brien'"],
    ["name eq 'it''s", "$filter: expected a value after 'eq' at position 9, found an unterminated string 'it''s (a quote inside a string is written twice: '')"],
    ['statecode eq 12abc', "$filter: expected a value after 'eq' at position 14, found an invalid number '12abc'"],
    ['statecode eq 1.', "$filter: expected a value after 'eq' at position 14, found an invalid number '1.'"],
    ['statecode eq - 1', "$filter: expected a value after 'eq' at position 14, found an unexpected character '-'"],
    ['statecode eq 1e999', "$filter: expected a value after 'eq' at position 14, found a number out of range '1e999'"],
    [
      'createdon gt 2026-13-01T00:00:00Z',
      "$filter: expected a value after 'gt' at position 14, found an invalid instant '2026-13-01T00:00:00Z' (write an ISO-8601 instant such as 2026-01-01T00:00:00Z, or a date such as 2026-01-01)",
    ],
    [
      'createdon gt 2026-02-29T00:00:00Z',
      "$filter: expected a value after 'gt' at position 14, found an invalid instant '2026-02-29T00:00:00Z' (write an ISO-8601 instant such as 2026-01-01T00:00:00Z, or a date such as 2026-01-01)",
    ],
    [
      'createdon gt 2026-01-01T24:00:00Z',
      "$filter: expected a value after 'gt' at position 14, found an invalid instant '2026-01-01T24:00:00Z' (write an ISO-8601 instant such as 2026-01-01T00:00:00Z, or a date such as 2026-01-01)",
    ],
    [
      'createdon gt 2026-01-01T00:00:00',
      "$filter: expected a value after 'gt' at position 14, found an invalid instant '2026-01-01T00:00:00' (write an ISO-8601 instant such as 2026-01-01T00:00:00Z, or a date such as 2026-01-01)",
    ],
    ['statecode eq 1 # x', "$filter: expected 'and', 'or' or end of input at position 16, found an unexpected character '#'"],
    ["name eq 'x\u{1F600}' and @", "$filter: expected a condition after 'and' at position 18, found an unexpected character '@'"],
    ['statecode eq 1 and \u0000', "$filter: expected a condition after 'and' at position 20, found an unexpected character U+0000"],
    ["tolower(name) eq 'a'", "$filter: unsupported function 'tolower' at position 1; the functions are contains, startswith, endswith"],
    ["contains name, 'a'", "$filter: expected '(' after 'contains' at position 10, found 'name'"],
    ["contains('a', name)", "$filter: expected a column name as the first argument of contains after 'contains(' at position 10, found the string 'a'"],
    ["startswith(name 'a')", "$filter: expected ',' after 'name' at position 17, found the string 'a'"],
    ['endswith(name, 1)', "$filter: expected a quoted string as the second argument of endswith after ',' at position 16, found '1'"],
    ['contains(name, null)', "$filter: expected a quoted string as the second argument of contains after ',' at position 16, found 'null'"],
    ["contains(name, 'a'", "$filter: expected ')' to close contains( after the string 'a' at position 19, found end of input"],
    ["contains(name, 'a') eq true", "$filter: expected 'and', 'or' or end of input at position 21, found 'eq'"],
    [
      `statecode eq '${'x'.repeat(60)}' x`,
      `$filter: expected 'and', 'or' or end of input at position 77, found 'x'`,
    ],
    [`'${'y'.repeat(60)}'`, `$filter: expected a comparison operator (eq, ne, gt, ge, lt, le) after the string '${'y'.repeat(36)}... at position 63, found end of input`],
  ])('%j', (filter, message) => {
    const e = failure(filter);
    expect(e.code).toBe('ODATA_SYNTAX');
    expect(e.message).toBe(message);
    expect(e.details['option']).toBe('$filter');
    expect(e.details['position']).toBe(Number(/at position (\d+)(?!.*at position)/.exec(message)?.[1]));
  });

  it('limits nesting', () => {
    const tooDeep = `${'('.repeat(MAX_FILTER_DEPTH + 1)}statecode eq 0${')'.repeat(MAX_FILTER_DEPTH + 1)}`;
    expect(failure(tooDeep).message).toBe(`$filter: parentheses and 'not' nest deeper than ${MAX_FILTER_DEPTH} levels at position ${MAX_FILTER_DEPTH + 1}`);
    expect(failure(`${'not '.repeat(MAX_FILTER_DEPTH + 1)}statecode eq 0`).code).toBe('ODATA_SYNTAX');
    expect(failure('('.repeat(100_000)).code).toBe('ODATA_SYNTAX');
    expect(failure('not '.repeat(100_000)).code).toBe('ODATA_SYNTAX');
  });

  it('refuses a filter that is not text', () => {
    const e = (() => {
      try {
        parseFilter(42 as unknown as string, COLUMNS);
      } catch (error) {
        return error as RekeyError;
      }
      return undefined;
    })();
    expect(e?.code).toBe('ODATA_SYNTAX');
    expect(e?.message).toBe('$filter: expected text, found number');
  });
});
