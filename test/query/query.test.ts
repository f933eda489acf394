import { describe, expect, it } from 'vitest';
import { isRekeyError, type RekeyError } from '../../src/kernel/errors.js';
import {
  FORMATTED_VALUE_SUFFIX,
  parseCount,
  parseOrderBy,
  parseSelect,
  parseTop,
  runQuery,
  type QueryRequest,
  type Row,
} from '../../src/query/index.js';

const FV = FORMATTED_VALUE_SUFFIX;
const COLUMNS = ['flowmachineid', 'name', 'agentversion', '_flowmachinegroupid_value', 'keydeliverystatus', 'lastheartbeatdate', 'statecode'];
const LIST = COLUMNS.join(', ');

const machine = (id: number, name: string, status: number | null, heartbeat: string | null, extra: Row = {}): Row => ({
  '@odata.etag': `W/"${id}"`,
  flowmachineid: `id-${id}`,
  name,
  agentversion: '2.23.0.0',
  _flowmachinegroupid_value: 'g-1',
  keydeliverystatus: status,
  [`keydeliverystatus${FV}`]: status === null ? undefined : ['', 'Default', 'PendingNewKey', 'KeyExpired'][status],
  lastheartbeatdate: heartbeat,
  statecode: 0,
  [`statecode${FV}`]: 'Active',
  ...extra,
});

const ROWS: Row[] = [
  machine(1, 'FIN-03', 2, '2026-01-03T00:00:00Z'),
  machine(2, 'fin-01', 1, null),
  machine(3, 'FIN-02', null, '2026-01-01T00:00:00.000Z'),
  machine(4, 'HR-01', 3, '2026-01-02T12:00:00+02:00'),
  machine(5, 'hr-02', 1, '2026-01-02T11:00:00Z'),
];

const query = (options: Omit<QueryRequest, 'table' | 'rows' | 'columns'>, rows: Row[] = ROWS) =>
  runQuery({ table: 'flowmachines', rows, columns: [...COLUMNS, `statecode${FV}`], ...options });

const names = (result: { value: Row[] }) => result.value.map((row) => row['name']);

function failure(run: () => unknown): RekeyError {
  try {
    run();
  } catch (error) {
    expect(isRekeyError(error)).toBe(true);
    expect((error as RekeyError).kind).toBe('validation');
    return error as RekeyError;
  }
  throw new Error('expected a failure');
}

describe('runQuery', () => {
  it('returns every row, unchanged, without options', () => {
    const result = query({});
    expect(result).toEqual({ value: ROWS });
    expect(result.value[0]).not.toBe(ROWS[0]);
    expect('count' in result).toBe(false);
  });

  it('filters', () => {
    expect(names(query({ filter: "startswith(name,'fin')" }))).toEqual(['FIN-03', 'fin-01', 'FIN-02']);
    expect(names(query({ filter: 'lastheartbeatdate lt 2026-01-02T11:00:00Z' }))).toEqual(['FIN-02', 'HR-01']);
    expect(names(query({ filter: 'keydeliverystatus eq null or keydeliverystatus eq 3' }))).toEqual(['FIN-02', 'HR-01']);
  });

  it('selects columns in the order given, with their formatted values and the row annotations', () => {
    const result = query({ select: 'statecode,name,keydeliverystatus', top: 1 });
    expect(result.value).toEqual([
      { '@odata.etag': 'W/"1"', statecode: 0, [`statecode${FV}`]: 'Active', name: 'FIN-03', keydeliverystatus: 2, [`keydeliverystatus${FV}`]: 'PendingNewKey' },
    ]);
    expect(Object.keys(result.value[0] as Row)).toEqual([
      '@odata.etag',
      'statecode',
      `statecode${FV}`,
      'name',
      'keydeliverystatus',
      `keydeliverystatus${FV}`,
    ]);
  });

  it('drops annotations of columns that are not selected and keeps empty columns as null', () => {
    const result = query({ select: ['name', 'lastheartbeatdate'], filter: "name eq 'FIN-01'" });
    expect(result.value).toEqual([{ '@odata.etag': 'W/"2"', name: 'fin-01', lastheartbeatdate: null }]);
    const missing = runQuery({ table: 't', rows: [{ a: 1 }], columns: ['a', 'b'], select: 'b,a' });
    expect(missing.value).toEqual([{ b: null, a: 1 }]);
  });

  it('selects * as every column, and a repeated column once', () => {
    expect(Object.keys(query({ select: '*', top: 1 }).value[0] as Row).filter((k) => !k.includes('@'))).toEqual(COLUMNS);
    expect(parseSelect('name, name ,statecode', COLUMNS)).toEqual(['name', 'statecode']);
  });

  it('orders case-insensitively, stably, nulls first on asc and last on desc', () => {
    expect(names(query({ orderby: 'name' }))).toEqual(['fin-01', 'FIN-02', 'FIN-03', 'HR-01', 'hr-02']);
    expect(names(query({ orderby: 'name desc' }))).toEqual(['hr-02', 'HR-01', 'FIN-03', 'FIN-02', 'fin-01']);
    expect(names(query({ orderby: 'keydeliverystatus asc' }))).toEqual(['FIN-02', 'fin-01', 'hr-02', 'FIN-03', 'HR-01']);
    expect(names(query({ orderby: 'keydeliverystatus desc' }))).toEqual(['HR-01', 'FIN-03', 'fin-01', 'hr-02', 'FIN-02']);
    expect(names(query({ orderby: 'keydeliverystatus desc, name desc' }))).toEqual(['HR-01', 'FIN-03', 'hr-02', 'fin-01', 'FIN-02']);
    expect(names(query({ orderby: 'statecode' }))).toEqual(['FIN-03', 'fin-01', 'FIN-02', 'HR-01', 'hr-02']);
  });

  it('orders instants chronologically whatever their ISO form', () => {
    // HR-01 is 2026-01-02T10:00Z, before hr-02 at 11:00Z, although its text sorts after.
    expect(names(query({ orderby: 'lastheartbeatdate' }))).toEqual(['fin-01', 'FIN-02', 'HR-01', 'hr-02', 'FIN-03']);
    expect(names(query({ orderby: 'lastheartbeatdate desc' }))).toEqual(['FIN-03', 'hr-02', 'HR-01', 'FIN-02', 'fin-01']);
  });

  it('orders mixed values by type: null, boolean, number, string', () => {
    const rows = [{ v: 'b' }, { v: 2 }, { v: null }, { v: true }, { v: 'A' }, { v: 1 }, {}, { v: false }];
    expect(runQuery({ table: 't', rows, columns: ['v'], orderby: 'v' }).value.map((r) => r['v'])).toEqual([
      null,
      undefined,
      false,
      true,
      1,
      2,
      'A',
      'b',
    ]);
  });

  it('applies $top after filtering and ordering', () => {
    expect(names(query({ filter: "startswith(name,'fin')", orderby: 'name', top: 2 }))).toEqual(['fin-01', 'FIN-02']);
    expect(names(query({ top: '3' }))).toEqual(['FIN-03', 'fin-01', 'FIN-02']);
    expect(names(query({ top: 100 }))).toHaveLength(5);
  });

  it('counts every matching row, ignoring $top', () => {
    expect(query({ filter: "startswith(name,'fin')", top: 1, count: true })).toMatchObject({ count: 3 });
    expect(query({ filter: "startswith(name,'fin')", top: 1, count: true }).value).toHaveLength(1);
    expect(query({ count: 'true' }).count).toBe(5);
    expect(query({ filter: "name eq 'x'", count: true })).toEqual({ value: [], count: 0 });
    expect('count' in query({ count: false })).toBe(false);
    expect('count' in query({ count: 'false' })).toBe(false);
  });

  it('validates every option before reading rows', () => {
    expect(failure(() => query({ filter: 'foo eq 1' }, [])).code).toBe('ODATA_UNKNOWN_COLUMN');
    expect(failure(() => query({ select: 'foo' }, [])).code).toBe('ODATA_UNKNOWN_COLUMN');
    expect(failure(() => query({ orderby: 'foo' }, [])).code).toBe('ODATA_UNKNOWN_COLUMN');
    expect(failure(() => query({ top: 0 }, [])).code).toBe('ODATA_INVALID_TOP');
    expect(failure(() => query({ count: 'yes' }, [])).code).toBe('ODATA_INVALID_COUNT');
  });

  it('treats annotation keys of the columns list as no columns', () => {
    const e = failure(() => query({ select: `statecode${FV}` }));
    expect(e.code).toBe('ODATA_SYNTAX');
    expect(e.message).toBe("$select: expected ',' or end of input after 'statecode' at position 10, found an unexpected character '@'");
    expect(failure(() => query({ filter: "name eq 'x' or foo eq 1" })).message).toBe(
      `unknown column 'foo' in flowmachines; columns are: ${LIST}`,
    );
  });
});

describe('$select errors', () => {
  it.each([
    ['', '$select: expected a column name at position 1, found end of input'],
    ['name,', "$select: expected a column name after ',' at position 6, found end of input"],
    ['name,,statecode', "$select: expected a column name after ',' at position 6, found ','"],
    [',name', '$select: expected a column name at position 1, found \',\''],
    ['name statecode', "$select: expected ',' or end of input after 'name' at position 6, found 'statecode'"],
    ['name desc', "$select: expected ',' or end of input after 'name' at position 6, found 'desc'"],
    ["'name'", "$select: expected a column name at position 1, found the string 'name'"],
    ['name;statecode', "$select: expected ',' or end of input after 'name' at position 5, found an unexpected character ';'"],
    ['name,(', "$select: expected a column name after ',' at position 6, found '('"],
  ])('%j', (select, message) => {
    const e = failure(() => parseSelect(select, COLUMNS, 'flowmachines'));
    expect(e.code).toBe('ODATA_SYNTAX');
    expect(e.message).toBe(message);
  });

  it('names an unknown column', () => {
    const e = failure(() => parseSelect('name,Statecode', COLUMNS, 'flowmachines'));
    expect(e.code).toBe('ODATA_UNKNOWN_COLUMN');
    expect(e.message).toBe(`unknown column 'Statecode' in flowmachines; columns are: ${LIST}`);
    expect(e.details).toMatchObject({ option: '$select', column: 'Statecode', position: 6 });
  });
});

describe('$orderby', () => {
  it('parses columns and directions', () => {
    expect(parseOrderBy(' name desc ,statecode,  _flowmachinegroupid_value asc', COLUMNS)).toEqual([
      { column: 'name', direction: 'desc' },
      { column: 'statecode', direction: 'asc' },
      { column: '_flowmachinegroupid_value', direction: 'asc' },
    ]);
  });

  it.each([
    ['', '$orderby: expected a column name at position 1, found end of input'],
    ['name,', "$orderby: expected a column name after ',' at position 6, found end of input"],
    ['name descending', "$orderby: expected 'asc', 'desc', ',' or end of input after 'name' at position 6, found 'descending'"],
    ['name DESC', "$orderby: expected 'asc', 'desc', ',' or end of input after 'name' at position 6, found 'DESC'"],
    ['name desc asc', "$orderby: expected ',' or end of input after 'desc' at position 11, found 'asc'"],
    ['desc', "unknown column 'desc' in flowmachines; columns are: " + LIST],
    ['name desc,*', "$orderby: expected a column name after ',' at position 11, found '*'"],
  ])('%j', (orderby, message) => {
    const e = failure(() => parseOrderBy(orderby, COLUMNS, 'flowmachines'));
    expect(e.message).toBe(message);
    expect(e.code).toBe(message.startsWith('unknown') ? 'ODATA_UNKNOWN_COLUMN' : 'ODATA_SYNTAX');
  });
});

describe('$top and $count', () => {
  it('accepts positive integers', () => {
    expect(parseTop(1)).toBe(1);
    expect(parseTop('25')).toBe(25);
    expect(parseTop(' 007 ')).toBe(7);
  });

  it.each([
    [0, '$top: expected a positive integer, found 0'],
    [-3, '$top: expected a positive integer, found -3'],
    [1.5, '$top: expected a positive integer, found 1.5'],
    [Number.NaN, '$top: expected a positive integer, found NaN'],
    [Number.POSITIVE_INFINITY, '$top: expected a positive integer, found Infinity'],
    ['0', "$top: expected a positive integer, found '0'"],
    ['-1', "$top: expected a positive integer, found '-1'"],
    ['ten', "$top: expected a positive integer, found 'ten'"],
    ['1e3', "$top: expected a positive integer, found '1e3'"],
    ['', "$top: expected a positive integer, found ''"],
    ['99999999999999999999', "$top: expected a positive integer, found '99999999999999999999'"],
  ])('refuses %j', (top, message) => {
    const e = failure(() => parseTop(top));
    expect(e.code).toBe('ODATA_INVALID_TOP');
    expect(e.message).toBe(message);
  });

  it('reads $count', () => {
    expect(parseCount(true)).toBe(true);
    expect(parseCount('false')).toBe(false);
    expect(parseCount(' TRUE ')).toBe(true);
    const e = failure(() => parseCount('1'));
    expect(e.code).toBe('ODATA_INVALID_COUNT');
    expect(e.message).toBe("$count: expected true or false, found '1'");
  });
});
