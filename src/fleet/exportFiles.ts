/**
 * Reading export files: Dataverse Web API JSON (`{"value": [...]}` as `rekey query --json` prints it)
 * or CSV with the same column names (or their display names). Each file yields the table it holds
 * and its rows, each row's cells keyed by logical column name and remembering where it came from
 * (JSON: its index in `value`; CSV: its line). Problems of the file as a whole (unreadable, empty,
 * not JSON, wrong shape, unknown table, unknown CSV columns) are file problems: nothing of that
 * file can be imported. Problems of a single row are row problems (see observe.ts).
 */
import { readFileSync, statSync } from 'node:fs';
import { parseJsonText } from '../simulation/loader/jsonText.js';
import { IMPORT_TABLES, detectTable, logicalColumn, type ImportTable } from './columns.js';
import { parseCsv } from './csv.js';

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
}

export interface ExportFile {
  readonly file: string;
  readonly format: 'json' | 'csv';
  readonly table: ImportTable;
  readonly rows: readonly ExportRow[];
  /** Rows in the file, good and bad. */
  readonly rowCount: number;
  /** Row problems found while reading (unknown JSON keys, rows that are not objects). */
  readonly problems: readonly ImportProblem[];
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

export function readExportFile(file: string): ReadResult {
  const fail = (reason: string, line?: number): ReadResult => ({ ok: false, problem: line === undefined ? { file, reason } : { file, line, reason } });
  let text: string;
  try {
    const size = statSync(file).size;
    if (size > MAX_EXPORT_BYTES) return fail(`the file is ${size} bytes; expected at most ${MAX_EXPORT_BYTES} bytes`);
    text = readFileSync(file, 'utf8');
  } catch (error) {
    return fail(`cannot read the file (${error instanceof Error ? error.message : String(error)})`);
  }
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (body.trim() === '') return fail('the file is empty; expected a Dataverse export: {"value": [...]} or CSV with a header line');
  const first = body.trimStart()[0];
  if (first === '{' || first === '[' || /\.json$/i.test(file)) return readJson(file, body);
  return readCsv(file, body);
}

function readJson(file: string, text: string): ReadResult {
  const fail = (reason: string, line?: number): ReadResult => ({ ok: false, problem: line === undefined ? { file, reason } : { file, line, reason } });
  const parsed = parseJsonText(text);
  if (!parsed.ok) {
    const where = parsed.line === undefined ? '' : ` at line ${parsed.line}, column ${parsed.column}`;
    return fail(`is not valid JSON${where} (${parsed.message}); expected {"value": [...]} as rekey query --json prints it`, parsed.line);
  }
  const value = parsed.value;
  const shape = 'expected a Dataverse Web API response {"value": [rows]} as rekey query TABLE --json prints it';
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return fail(`holds ${Array.isArray(value) ? 'an array' : value === null ? 'null' : `a ${typeof value}`} at the top; ${shape}`);
  }
  const top = value as Record<string, unknown>;
  for (const key of Object.keys(top)) {
    if (key !== 'value' && !key.startsWith('@')) return fail(`has the top-level key ${JSON.stringify(key)}; ${shape}`);
  }
  if (!Object.prototype.hasOwnProperty.call(top, 'value')) return fail(`has no "value"; ${shape}`);
  const items = top.value;
  if (!Array.isArray(items)) return fail(`has a "value" that is not an array; ${shape}`);

  let table: ImportTable | undefined;
  const context = top['@odata.context'];
  if (context !== undefined) {
    const named = typeof context === 'string' ? /#([A-Za-z_]+)/.exec(context)?.[1] : undefined;
    if (named === undefined || !(IMPORT_TABLES as readonly string[]).includes(named)) {
      return fail(`has @odata.context ${JSON.stringify(context)}, which names no table rekey imports; expected one of ${IMPORT_TABLES.join(', ')}`);
    }
    table = named as ImportTable;
  }
  const keys = new Set<string>();
  for (const item of items) if (isObject(item)) for (const key of Object.keys(item)) if (!key.includes('@')) keys.add(key);
  if (table === undefined) {
    if (items.length === 0) return fail('holds no rows ("value" is empty) and no @odata.context to tell its table; expected rows of flowmachinegroups or flowmachines');
    table = detectTable([...keys]);
    if (table === undefined) return fail(`has columns (${[...keys].slice(0, 8).join(', ')}) that do not tell which table it holds; expected the columns of flowmachinegroups or flowmachines (docs/model.md, Tables)`);
  }
  const rows: ExportRow[] = [];
  const problems: ImportProblem[] = [];
  items.forEach((item, index) => {
    if (!isObject(item)) {
      problems.push({ file, index, reason: `is ${Array.isArray(item) ? 'an array' : item === null ? 'null' : `a ${typeof item}`}; expected a row object` });
      return;
    }
    const cells = new Map<string, unknown>();
    let good = true;
    for (const [key, cell] of Object.entries(item)) {
      if (key.includes('@')) continue; // annotations: @odata.etag, formatted values
      const column = key === logicalColumn(table!, key) ? key : undefined;
      if (column === undefined) {
        problems.push({ file, index, column: key, reason: `is not a column of ${table}; expected its logical names (${tableColumnsHint(table!)})` });
        good = false;
        continue;
      }
      cells.set(column, cell);
    }
    if (good) rows.push({ file, index, cells });
  });
  return { ok: true, export: { file, format: 'json', table, rows, rowCount: items.length, problems } };
}

function readCsv(file: string, text: string): ReadResult {
  const fail = (reason: string, line?: number): ReadResult => ({ ok: false, problem: line === undefined ? { file, reason } : { file, line, reason } });
  const parsed = parseCsv(text);
  if (!parsed.ok) return fail(`is not valid CSV at line ${parsed.line}: ${parsed.message}`, parsed.line);
  const [header, ...records] = parsed.records;
  if (!header) return fail('the file is empty; expected a header line of column names, then one line per row');
  const names = header.cells.map((cell) => cell.trim());
  const table = detectTable(names);
  if (table === undefined) {
    return fail(`has a header (${names.slice(0, 8).join(', ')}) that does not tell which table it holds; expected the column names of flowmachinegroups or flowmachines (logical or display names)`, header.line);
  }
  const columns: string[] = [];
  const seen = new Map<string, string>();
  for (const name of names) {
    const column = logicalColumn(table, name);
    if (column === undefined) return fail(`column ${JSON.stringify(name)} of the header is not a column of ${table}; expected ${tableColumnsHint(table)}`, header.line);
    const earlier = seen.get(column);
    if (earlier !== undefined) return fail(`columns ${JSON.stringify(earlier)} and ${JSON.stringify(name)} of the header both name ${column}`, header.line);
    seen.set(column, name);
    columns.push(column);
  }
  if (records.length === 0) return fail('has a header but no rows; expected one line per row after the header', header.line);
  const rows: ExportRow[] = [];
  const problems: ImportProblem[] = [];
  for (const record of records) {
    if (record.cells.length !== columns.length) {
      problems.push({ file, line: record.line, reason: `has ${record.cells.length} fields; expected ${columns.length}, one per header column` });
      continue;
    }
    const cells = new Map<string, unknown>();
    record.cells.forEach((cell, i) => cells.set(columns[i]!, cell.trim() === '' ? null : cell.trim()));
    rows.push({ file, line: record.line, cells });
  }
  return { ok: true, export: { file, format: 'csv', table, rows, rowCount: records.length, problems } };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function tableColumnsHint(table: ImportTable): string {
  const hints: Record<ImportTable, string> = {
    flowmachinegroups: 'flowmachinegroupid, name, keycreationdate, keyvalidityperiod, keyexpirygraceperiod, primarypublickey, ...',
    flowmachines: 'flowmachineid, name, agentversion, _flowmachinegroupid_value, keydeliverystatus, lastheartbeatdate, ...',
    desktopflowconnections: 'connectionid, name, targettype, targetname, status, keythumbprints, ...',
  };
  return hints[table];
}
