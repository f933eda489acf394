/**
 * The documentation keeps up with the code:
 * - every error code the sources define or raise is catalogued in docs/contract.md, with the kind,
 *   exit code and HTTP status the code really gives it (and nothing stale is catalogued);
 * - every test that docs/rules.md cites exists, in the file it names, under the name it gives.
 * Pure text scans of the repository: no engine, no store, well under a second.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { httpStatusOf } from '../../src/api/errors.js';
import { RekeyError, type ErrorKind } from '../../src/kernel/errors.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Where codes are defined: src/ (the brief) and projections/ (the tables' own codes, e.g. TABLE_UNKNOWN). */
const SOURCE_DIRS = ['src', 'projections'];
const KINDS: readonly ErrorKind[] = ['validation', 'refused', 'not_found', 'conflict', 'integrity', 'internal'];

function typeScriptFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const found: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) found.push(...typeScriptFiles(path));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) found.push(path);
  }
  return found;
}

/** The text of a call starting at `open` (the index of its '('), by naive parenthesis balance. */
function callText(text: string, open: number): string {
  let depth = 0;
  for (let i = open; i < text.length && i < open + 4000; i++) {
    if (text[i] === '(') depth++;
    else if (text[i] === ')' && --depth === 0) return text.slice(open, i + 1);
  }
  return '';
}

interface Use {
  readonly file: string;
  /** The kind given where it is raised; null when none is given there; 'definition' where it is only defined. */
  readonly kind: ErrorKind | null | 'definition';
}

interface Scan {
  /** Codes defined or thrown as RekeyErrors, with every place and the kind given there. */
  readonly thrown: Map<string, Use[]>;
  /** Codes registered with errorKind(code, kind). */
  readonly registered: Map<string, ErrorKind>;
  /** Codes recorded in ConnectionRunFailed events (not thrown). */
  readonly runFailures: Set<string>;
}

function scanSources(): Scan {
  const thrown = new Map<string, Use[]>();
  const registered = new Map<string, ErrorKind>();
  const runFailures = new Set<string>();
  const add = (code: string, use: Use) => thrown.set(code, [...(thrown.get(code) ?? []), use]);
  const files = SOURCE_DIRS.flatMap((dir) => typeScriptFiles(join(ROOT, dir)));
  const texts = files.map((file) => ({ file: relative(ROOT, file), text: readFileSync(file, 'utf8') }));

  // Identifiers that name a code: `const X = errorKind('X', ...)` or `const X = 'X'`.
  const codeOfIdentifier = new Map<string, string>();
  for (const { file, text } of texts) {
    for (const m of text.matchAll(/errorKind\(\s*'([A-Z][A-Z0-9_]*)'\s*,\s*'([a-z_]+)'\s*\)/g)) {
      registered.set(m[1]!, m[2] as ErrorKind);
      add(m[1]!, { file, kind: 'definition' });
    }
    for (const m of text.matchAll(/const\s+([A-Z][A-Z0-9_]*)\s*=\s*errorKind\(\s*'([A-Z][A-Z0-9_]*)'/g)) codeOfIdentifier.set(m[1]!, m[2]!);
    // String-constant codes: `export const X = 'X'` (the name is the code).
    for (const m of text.matchAll(/const\s+([A-Z][A-Z0-9_]*)\s*=\s*'([A-Z][A-Z0-9_]*)'\s*;/g)) {
      if (m[1] !== m[2]) continue;
      codeOfIdentifier.set(m[1]!, m[2]!);
      add(m[2]!, { file, kind: 'definition' });
    }
    // A subclass of RekeyError passing its code up (WrongExpectedRevisionError): its kind is the registered one.
    for (const m of text.matchAll(/super\(\s*'([A-Z][A-Z0-9_]*)'/g)) add(m[1]!, { file, kind: null });
    for (const m of text.matchAll(/recordRunFailure\([^,()]+,\s*'([A-Za-z][A-Za-z0-9_]*)'/g)) runFailures.add(m[1]!);
    // The run-failure codes' own module names every code it records as a string constant.
    if (file.endsWith(join('connection', 'runFailures.ts'))) for (const m of text.matchAll(/export const [A-Z_]+ = '([A-Za-z][A-Za-z0-9_]*)';/g)) runFailures.add(m[1]!);
  }
  for (const { file, text } of texts) {
    for (const m of text.matchAll(/new RekeyError\(\s*(?:'([A-Z][A-Z0-9_]*)'|([A-Z][A-Z0-9_]*)\s*,)/g)) {
      const code = m[1] ?? codeOfIdentifier.get(m[2]!);
      if (code === undefined) continue; // a code held in a variable (e.g. cryptoError's parameter)
      const call = callText(text, m.index! + 'new RekeyError'.length);
      const explicit = /,\s*'(validation|refused|not_found|conflict|integrity|internal)'\s*,?\s*\)$/.exec(call);
      add(code, { file, kind: (explicit?.[1] as ErrorKind | undefined) ?? null });
    }
  }
  return { thrown, registered, runFailures };
}

/**
 * The kinds a RekeyError with this code gets where it is raised: the explicit kind, else the
 * registered one, else 'refused' (RekeyError's default). A code only defined gets its registered kind.
 */
function kindsOf(code: string, scan: Scan): Set<ErrorKind> {
  const fallback = scan.registered.get(code) ?? 'refused';
  const kinds = new Set<ErrorKind>();
  for (const use of scan.thrown.get(code) ?? []) {
    if (use.kind !== 'definition') kinds.add(use.kind ?? fallback);
  }
  if (kinds.size === 0) kinds.add(fallback);
  return kinds;
}

interface CatalogueRow {
  readonly code: string;
  readonly kind: string;
  readonly exit: string;
  readonly http: string;
}

/** Rows of the catalogue tables: `| \`CODE\` | kind | exit | HTTP | ... |`. */
function catalogueRows(markdown: string): CatalogueRow[] {
  const rows: CatalogueRow[] = [];
  for (const line of markdown.split('\n')) {
    const m = /^\|\s*`([A-Z][A-Z0-9_]*)`\s*\|\s*([a-z_]+)\s*\|\s*(\d)\s*\|\s*(\d{3})\s*\|/.exec(line);
    if (m) rows.push({ code: m[1]!, kind: m[2]!, exit: m[3]!, http: m[4]! });
  }
  return rows;
}

const contractPath = join(ROOT, 'docs', 'contract.md');
const rulesPath = join(ROOT, 'docs', 'rules.md');

describe('docs/contract.md catalogues every error code', () => {
  const scan = scanSources();
  const contract = existsSync(contractPath) ? readFileSync(contractPath, 'utf8') : '';
  const rows = catalogueRows(contract);
  const rowByCode = new Map(rows.map((row) => [row.code, row]));

  it('the scan finds the codes it should (a broken scan must not pass silently)', () => {
    for (const code of ['GROUP_NOT_FOUND', 'WRONG_EXPECTED_REVISION', 'ARGUMENT_INVALID', 'PASSWORD_INCORRECT']) {
      expect(scan.thrown.has(code), code).toBe(true);
    }
    expect(scan.thrown.size).toBeGreaterThan(40);
  });

  it('every code defined or raised in the sources has a catalogue row', () => {
    const missing = [...scan.thrown.keys()].filter((code) => !rowByCode.has(code)).sort();
    const where = missing.map((code) => `${code} (${[...new Set(scan.thrown.get(code)!.map((use) => use.file))].join(', ')})`);
    expect(where, `codes missing from docs/contract.md:\n${where.join('\n')}`).toEqual([]);
  });

  it('every run-failure code recorded in ConnectionRunFailed events is documented', () => {
    const missing = [...scan.runFailures].filter((code) => !contract.includes(`\`${code}\``)).sort();
    expect(missing, `run-failure codes missing from docs/contract.md: ${missing.join(', ')}`).toEqual([]);
  });

  it('each row gives the kind the code really has, and the exit code and HTTP status of that kind', () => {
    const wrong: string[] = [];
    for (const row of rows) {
      if (!scan.thrown.has(row.code)) continue; // stale rows are the next test's business
      if (row.kind === 'http') {
        // Sent only as an HTTP answer or a stream's close reason, never raised: the row's status stands.
        if (scan.registered.has(row.code) || scan.thrown.get(row.code)!.some((use) => use.kind !== 'definition')) wrong.push(`${row.code}: catalogued as http, but raised as a RekeyError`);
        continue;
      }
      const kinds = kindsOf(row.code, scan);
      if (kinds.size > 1) wrong.push(`${row.code}: raised with several kinds (${[...kinds].join(', ')})`);
      const kind = [...kinds][0]!;
      if (row.kind !== kind) wrong.push(`${row.code}: catalogued as ${row.kind}, the code gives ${kind}`);
      if (!KINDS.includes(row.kind as ErrorKind)) continue;
      const error = new RekeyError(row.code, '', {}, row.kind as ErrorKind);
      if (row.exit !== String(error.exitCode)) wrong.push(`${row.code}: exit ${row.exit}, but ${row.kind} exits ${error.exitCode}`);
      // The HTTP API maps a few codes to a status of their own (STORE_FULL: 507), see httpStatusOf.
      if (row.http !== String(httpStatusOf(error))) wrong.push(`${row.code}: HTTP ${row.http}, but the API answers ${httpStatusOf(error)}`);
    }
    expect(wrong, wrong.join('\n')).toEqual([]);
  });

  it('the catalogue lists no code that the sources no longer have', () => {
    const stale = rows.map((row) => row.code).filter((code) => !scan.thrown.has(code));
    expect(stale, `catalogued but not in the sources: ${stale.join(', ')}`).toEqual([]);
  });
});

describe('docs/rules.md cites tests that exist', () => {
  const rules = existsSync(rulesPath) ? readFileSync(rulesPath, 'utf8') : '';

  it('names every rule R1 to R22', () => {
    const absent = Array.from({ length: 22 }, (_, i) => `R${i + 1}`).filter((rule) => !new RegExp(`\\b${rule}\\b`).test(rules));
    expect(absent).toEqual([]);
  });

  it('every cited test file exists', () => {
    const paths = [...new Set([...rules.matchAll(/\btest\/[\w./-]+\.ts\b/g)].map((m) => m[0]))];
    expect(paths.length).toBeGreaterThan(0);
    const missing = paths.filter((path) => !existsSync(join(ROOT, path)));
    expect(missing, `cited in docs/rules.md but not found: ${missing.join(', ')}`).toEqual([]);
  });

  it('every cited test name appears, as written, in the file cited with it', () => {
    const cited = [...rules.matchAll(/`(test\/[\w./-]+\.ts)` › `([^`]+)`/g)].map((m) => ({ path: m[1]!, name: m[2]! }));
    expect(cited.length).toBeGreaterThan(20);
    const texts = new Map<string, string>();
    const read = (path: string) => {
      // Names as JavaScript reads them: 'the group\'s' in the source is the group's.
      if (!texts.has(path)) texts.set(path, existsSync(join(ROOT, path)) ? readFileSync(join(ROOT, path), 'utf8').replace(/\\(['"`])/g, '$1') : '');
      return texts.get(path)!;
    };
    const missing = cited.filter(({ path, name }) => !read(path).includes(name)).map(({ path, name }) => `${path} › ${name}`);
    expect([...new Set(missing)], `test names not found:\n${[...new Set(missing)].join('\n')}`).toEqual([]);
  });
});
