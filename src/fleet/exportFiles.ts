/**
 * Reading export files: Dataverse Web API JSON (`{"value": [...]}`, as the Web API answers it or as
 * `rekey query --json` prints it) or CSV (comma, semicolon or tab separated; as Excel, "Export to
 * Excel" or `rekey query --csv` write it), in UTF-8 with or without a byte order mark, UTF-16LE/BE
 * or windows-1252. Each file yields the table it holds and its rows, each row's cells keyed by
 * logical column name and remembering where it came from (JSON: its index in `value`; CSV: its
 * line) and how its dates and numbers are written (the locale and time zone). Columns rekey does
 * not read are ignored and listed. Problems of the file as a whole (unreadable, empty, not JSON,
 * wrong shape, unknown table) are file problems: nothing of that file can be imported. Problems of
 * a single row are row problems (see observe.ts).
 */
import { readFileSync, statSync } from 'node:fs';
import { parseJsonText } from '../simulation/loader/jsonText.js';
import { DO_NOT_MODIFY, IMPORT_TABLES, INSTANT_COLUMNS, MINUTE_COLUMNS, detectTable, logicalColumn, type ImportTable } from './columns.js';
import { delimiterName, detectDialect, parseCsv, type CsvDelimiter } from './csv.js';
import { CANDIDATE_LOCALES, DEFAULT_LOCALE, DEFAULT_TIME_ZONE, parseExportInstant, parseMinutes, type ValueFormat } from './localeValues.js';
import { decodeExportBytes, type TextEncoding } from './textDecoding.js';

/** Refuses export files larger than this before reading them (256 MiB). */
export const MAX_EXPORT_BYTES = 256 * 1024 * 1024;

/** Where a problem is: the file, and the row by CSV line or JSON index, and the column. */
export interface ImportProblem {
  readonly file: string;
  readonly line?: number;
  readonly index?: number;
  readonly column?: string;
  readonly reason: string;
}

export interface ExportRow {
  readonly file: string;
  /** CSV: the line the row starts on. */
  readonly line?: number;
  /** JSON: the row's index in `value`. */
  readonly index?: number;
  /** Cells by logical column; CSV cells are text (an empty cell is null), JSON cells as given. */
  readonly cells: ReadonlyMap<string, unknown>;
  /** How the row's dates and numbers are written. */
  readonly format: ValueFormat;
}

export interface ExportFile {
  readonly file: string;
  readonly format: 'json' | 'csv';
  readonly table: ImportTable;
  readonly rows: readonly ExportRow[];
  /** Rows in the file, good and bad. */
  readonly rowCount: number;
  /** Row problems found while reading (rows that are not objects, rows with the wrong field count). */
  readonly problems: readonly ImportProblem[];
  readonly encoding: TextEncoding | 'json value';
  readonly delimiter?: string;
  /** The locale its localized dates and numbers were read in, and where that choice came from. */
  readonly locale: string;
  readonly localeSource: '--locale' | 'inferred from the file' | 'inferred from the files' | 'default';
  /** CSV with localized cells: every candidate locale in which all of them read (en-US first). */
  readonly fittingLocales?: readonly string[];
  /** Columns (and annotations) of the file that rekey does not read, once each, in file order. */
  readonly ignoredColumns: readonly string[];
  /** A Web API page's `@odata.nextLink`: more rows follow in another page. */
  readonly nextLink?: string;
  /** A Web API response's `@odata.count`: the rows of the whole result, over every page. */
  readonly count?: number;
}

export interface ReadOptions {
  /** BCP 47 locale of localized dates and numbers; default inferred from the file, else en-US. */
  readonly locale?: string;
  /** IANA time zone of instants written without a zone; default UTC. */
  readonly timeZone?: string;
}

export type ReadResult = { readonly ok: true; readonly export: ExportFile } | { readonly ok: false; readonly problem: ImportProblem };

/** Where a problem is, as one line: `a.csv line 4, column keycreationdate` or `a.json value[2].name`. */
export function describeWhere(problem: ImportProblem): string {
  const parts = [problem.file];
  if (problem.line !== undefined) parts.push(`line ${problem.line}`);
  if (problem.index !== undefined) parts.push(`value[${problem.index}]`);
  let where = parts.join(' ');
  if (problem.column !== undefined) where += problem.line !== undefined ? `, column ${problem.column}` : `.${problem.column}`;
  return where;
}

const EXPECTED_FILE = 'expected a Dataverse export: Web API JSON {"value": [...]} or CSV with a header line';

export function readExportFile(file: string, options: ReadOptions = {}): ReadResult {
  let bytes: Buffer;
  try {
    const size = statSync(file).size;
    if (size > MAX_EXPORT_BYTES) return fail(file, `the file is ${size} bytes; expected at most ${MAX_EXPORT_BYTES} bytes`);
    bytes = readFileSync(file);
  } catch (error) {
    return fail(file, `cannot read the file (${error instanceof Error ? error.message : String(error)})`);
  }
  return readExportBytes(file, bytes, options);
}

export function readExportBytes(file: string, bytes: Uint8Array, options: ReadOptions = {}): ReadResult {
  const { text, encoding } = decodeExportBytes(bytes);
  if (text.trim() === '') return fail(file, `the file is empty; ${EXPECTED_FILE}`);
  const first = text.trimStart()[0];
  if (first === '{' || first === '[' || /\.json$/i.test(file)) {
    const parsed = parseJsonText(text);
    if (!parsed.ok) {
      const where = parsed.line === undefined ? '' : ` at line ${parsed.line}, column ${parsed.column}`;
      return fail(file, `is not valid JSON${where} (${parsed.message}); expected {"value": [...]} as the Dataverse Web API answers it`, parsed.line);
    }
    return readExportValue(file, parsed.value, options, encoding);
  }
  return readCsv(file, text, encoding, options);
}

function fail(file: string, reason: string, line?: number): ReadResult {
  return { ok: false, problem: line === undefined ? { file, reason } : { file, line, reason } };
}

/** A Web API response already parsed (a file's, or a page `rekey import --from` fetched). */
export function readExportValue(file: string, value: unknown, options: ReadOptions = {}, encoding: TextEncoding | 'json value' = 'json value'): ReadResult {
  const shape = 'expected a Dataverse Web API response {"value": [rows]}';
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return fail(file, `holds ${Array.isArray(value) ? 'an array' : value === null ? 'null' : `a ${typeof value}`} at the top; ${shape}`);
  }
  const top = value as Record<string, unknown>;
  for (const key of Object.keys(top)) {
    if (key !== 'value' && !key.startsWith('@')) return fail(file, `has the top-level key ${JSON.stringify(key)}; ${shape}`);
  }
  if (!Object.prototype.hasOwnProperty.call(top, 'value')) return fail(file, `has no "value"; ${shape}`);
  const items = top.value;
  if (!Array.isArray(items)) return fail(file, `has a "value" that is not an array; ${shape}`);

  let table: ImportTable | undefined;
  const context = top['@odata.context'];
  if (context !== undefined) {
    // `.../$metadata#flowmachines`, `#flowmachines(name,agentversion)`, `#flowmachines/$entity`.
    const named = typeof context === 'string' ? /#([A-Za-z_]+)/.exec(context)?.[1] : undefined;
    if (named === undefined || !(IMPORT_TABLES as readonly string[]).includes(named)) {
      return fail(file, `has @odata.context ${JSON.stringify(context)}, which names no table rekey imports; expected one of ${IMPORT_TABLES.join(', ')}`);
    }
    table = named as ImportTable;
  }
  const keys = new Set<string>();
  for (const item of items) if (isObject(item)) for (const key of Object.keys(item)) keys.add(key);
  if (table === undefined) {
    if (items.length === 0) return fail(file, 'holds no rows ("value" is empty) and no @odata.context to tell its table; expected rows of flowmachinegroups or flowmachines');
    table = detectTable([...keys].filter((key) => !key.includes('@')));
    if (table === undefined) return fail(file, `has columns (${[...keys].slice(0, 8).join(', ')}) that do not tell which table it holds; expected the columns of flowmachinegroups or flowmachines`);
  }
  const ignored: string[] = [];
  const columnOf = new Map<string, string | undefined>();
  for (const key of keys) {
    const column = key.includes('@') ? undefined : logicalColumn(table, key);
    columnOf.set(key, column);
    if (column === undefined) ignored.push(key);
  }
  const format: ValueFormat = { locale: options.locale ?? DEFAULT_LOCALE, timeZone: options.timeZone ?? DEFAULT_TIME_ZONE };
  const rows: ExportRow[] = [];
  const problems: ImportProblem[] = [];
  items.forEach((item, index) => {
    if (!isObject(item)) {
      problems.push({ file, index, reason: `is ${Array.isArray(item) ? 'an array' : item === null ? 'null' : `a ${typeof item}`}; expected a row object` });
      return;
    }
    const cells = new Map<string, unknown>();
    for (const [key, cell] of Object.entries(item)) {
      const column = columnOf.get(key);
      if (column !== undefined && !cells.has(column)) cells.set(column, cell);
    }
    rows.push({ file, index, cells, format });
  });
  const nextLink = typeof top['@odata.nextLink'] === 'string' ? top['@odata.nextLink'] : undefined;
  const count = typeof top['@odata.count'] === 'number' ? top['@odata.count'] : undefined;
  return {
    ok: true,
    export: {
      file, format: 'json', table, rows, rowCount: items.length, problems, encoding,
      locale: format.locale, localeSource: options.locale !== undefined ? '--locale' : 'default',
      ignoredColumns: ignored,
      ...(nextLink !== undefined ? { nextLink } : {}),
      ...(count !== undefined ? { count } : {}),
    },
  };
}

function readCsv(file: string, text: string, encoding: TextEncoding, options: ReadOptions): ReadResult {
  const dialect = detectDialect(text);
  const parsed = parseCsv(text, dialect);
  if (!parsed.ok) return fail(file, `is not valid CSV (${delimiterName(dialect.delimiter)}-separated) at line ${parsed.line}: ${parsed.message}`, parsed.line);
  const [header, ...records] = parsed.records;
  if (!header) return fail(file, `the file is empty; ${EXPECTED_FILE}`);
  const names = header.cells.map((cell) => cell.trim());
  const table = detectTable(names);
  if (table === undefined) {
    return fail(file, `has a header (${names.slice(0, 8).map((n) => JSON.stringify(n)).join(', ')}) that does not tell which table it holds; expected the column names of flowmachinegroups or flowmachines (logical names, or display names as Export to Excel writes them)`, header.line);
  }
  // Each header to its logical column, or null (ignored). A visible column wins over a hidden
  // "(Do Not Modify)" one naming the same column; two visible ones naming it are an error.
  const columns: (string | null)[] = names.map((name) => logicalColumn(table, name) ?? null);
  const ignored: string[] = [];
  const seen = new Map<string, number>();
  for (let i = 0; i < names.length; i++) {
    const column = columns[i];
    if (column === null || column === undefined) {
      ignored.push(names[i]!);
      continue;
    }
    const earlier = seen.get(column);
    if (earlier === undefined) {
      seen.set(column, i);
      continue;
    }
    const hidden = (j: number) => DO_NOT_MODIFY.test(names[j]!);
    if (!hidden(earlier) && !hidden(i)) return fail(file, `columns ${JSON.stringify(names[earlier])} and ${JSON.stringify(names[i])} of the header both name ${column}; expected each column once`, header.line);
    const drop = hidden(i) ? i : earlier;
    columns[drop] = null;
    ignored.push(names[drop]!);
    if (drop === earlier) seen.set(column, i);
  }
  if (records.length === 0) return fail(file, 'has a header but no rows; expected one line per row after the header', header.line);
  const format = csvFormat(records.map((r) => r.cells), columns, options);
  const rows: ExportRow[] = [];
  const problems: ImportProblem[] = [];
  for (const record of records) {
    if (record.cells.length !== columns.length) {
      const delimiter = delimiterName(dialect.delimiter);
      problems.push({ file, line: record.line, reason: `has ${record.cells.length} fields; expected ${columns.length}, one per header column (${delimiter}-separated)` });
      continue;
    }
    const cells = new Map<string, unknown>();
    record.cells.forEach((cell, i) => {
      const column = columns[i];
      if (column) cells.set(column, cell.trim() === '' ? null : cell.trim());
    });
    rows.push({ file, line: record.line, cells, format: format.value });
  }
  return {
    ok: true,
    export: {
      file, format: 'csv', table, rows, rowCount: records.length, problems, encoding, delimiter: delimiterLabel(dialect.delimiter),
      locale: format.value.locale, localeSource: format.source, ignoredColumns: ignored,
      ...(format.fitting !== undefined ? { fittingLocales: format.fitting } : {}),
    },
  };
}

function delimiterLabel(delimiter: CsvDelimiter): string {
  return delimiter === '\t' ? 'tab' : delimiter;
}

/**
 * The locale a CSV's dates and numbers are written in: `--locale` when given; else the first of
 * CANDIDATE_LOCALES (en-US first) in which every instant and minute cell of the file reads; en-US
 * when none does (the row problems then say which cells are wrong) or when nothing is localized.
 * The importer then settles one locale for all the files of an import (`commonLocale`): a groups
 * file whose dates all read both ways ("10/01/2026") takes the locale its machines file proves.
 */
function csvFormat(records: readonly (readonly string[])[], columns: readonly (string | null)[], options: ReadOptions): { value: ValueFormat; source: ExportFile['localeSource']; fitting?: readonly string[] } {
  const timeZone = options.timeZone ?? DEFAULT_TIME_ZONE;
  if (options.locale !== undefined) return { value: { locale: options.locale, timeZone }, source: '--locale' };
  const instants: string[] = [];
  const numbers: string[] = [];
  for (const cells of records) {
    cells.forEach((cell, i) => {
      const column = columns[i];
      const text = cell.trim();
      if (!column || text === '') return;
      if (INSTANT_COLUMNS.has(column) && !/^\d{4}-\d{2}-\d{2}/.test(text)) instants.push(text);
      else if (MINUTE_COLUMNS.has(column) && !/^\d+$/.test(text)) numbers.push(text);
    });
  }
  if (instants.length === 0 && numbers.length === 0) return { value: { locale: DEFAULT_LOCALE, timeZone }, source: 'default' };
  const fitting = CANDIDATE_LOCALES.filter((locale) => {
    const format = { locale, timeZone };
    return instants.every((t) => parseExportInstant(t, format) !== undefined) && numbers.every((t) => parseMinutes(t, locale) !== undefined);
  });
  const locale = fitting[0] ?? DEFAULT_LOCALE;
  return { value: { locale, timeZone }, source: locale === DEFAULT_LOCALE ? 'default' : 'inferred from the file', fitting };
}

/**
 * The one locale for every localized CSV of an import: the first of CANDIDATE_LOCALES in which all
 * the files that read in some locale read; undefined when every file already chose it, or when
 * they share none. A file that reads in no locale (a bad date) is then read in it too, so that its
 * problems name the locale its sibling files prove.
 */
export function commonLocale(exports: readonly ExportFile[]): string | undefined {
  const fitting = exports.filter((f) => f.fittingLocales !== undefined && f.fittingLocales.length > 0);
  if (fitting.length === 0) return undefined;
  const locale = CANDIDATE_LOCALES.find((l) => fitting.every((f) => f.fittingLocales!.includes(l)));
  if (locale === undefined || exports.every((f) => f.fittingLocales === undefined || f.locale === locale)) return undefined;
  return locale;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
