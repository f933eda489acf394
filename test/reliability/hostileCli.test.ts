/**
 * Hostile input at the command line (issue 6), on the built binary. Every run ends with exit 0, 1
 * or 2 (never a signal, never more), and when it fails, stderr is exactly one line
 * `rekey: CODE: message` (with --json: one line `{"error": {"code", "message"}}` and an empty
 * stdout), never a stack trace and never INTERNAL (which means a bug).
 * - fast-check: random commands with random and boundary option values (huge numbers, negative,
 *   NaN, invalid dates, unicode, 100 KB arguments, `__proto__`), against a real store;
 * - a table of boundary values with the exit code and error code each must give;
 * - hostile scenario files (the loader's own fuzzing is in test/simulation; these are the CLI cases:
 *   empty, binary, nested 100,000 deep, a directory, over 64 MiB);
 * - damaged SQLite files given to `events` and `verify`: STORE_CORRUPT (exit 1).
 */
import { mkdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteEventStore } from '../../src/store/sqlite.js';
import { copyStore, tinyStore } from './support/fixtures.js';
import { cliOutcome, pool, runCli, type CliRun } from './support/processes.js';
import { removeScratchDirs, scratchDir } from './support/scratch.js';

const BIG = '<100 KB of x>';

/** The error contract of docs/contract.md (section 4); returns the error code (null for success). */
function checkContract(run: CliRun): string | null {
  const label = `rekey ${run.args.map((a) => (a.length > 60 ? `${a.slice(0, 60)}...(${a.length})` : a)).join(' ')}`;
  expect(run.signal, label).toBeNull();
  expect([0, 1, 2], `${label}: exit ${run.status}\n${run.stderr.slice(0, 2000)}`).toContain(run.status);
  expect(run.stderr, `${label}: a stack trace`).not.toMatch(/^\s+at .+[:(]/m);
  if (run.status === 0) {
    expect(run.stderr, label).toBe('');
    return null;
  }
  // `verify` reports a broken chain as its result on stdout (exit 1), not as an error.
  if (run.args[0] === 'verify' && run.status === 1 && run.stderr === '' && /^(FAILED at position|\{)/.test(run.stdout)) return 'CHECK_FAILED';
  expect(run.stderr.endsWith('\n') && run.stderr.indexOf('\n') === run.stderr.length - 1, `${label}: stderr is not one line:\n${run.stderr.slice(0, 2000)}`).toBe(true);
  const outcome = cliOutcome(run);
  if (outcome.ok) throw new Error('unreachable');
  if (run.args.includes('--json')) {
    expect(run.stdout, label).toBe('');
    expect(Object.keys(JSON.parse(run.stderr) as object), label).toEqual(['error']);
  }
  expect(outcome.code, `${label}: ${outcome.message.slice(0, 500)}`).not.toBe('INTERNAL');
  return outcome.code;
}

afterAll(removeScratchDirs);

describe('hostile input at the command line', () => {
  let db = '';
  let dir = '';
  let events = 0;
  let cwd = '';
  // BIG stands for a 100 KB argument, so that a failing case prints short.
  const run = (args: readonly string[]) => runCli(args.map((arg) => (arg === BIG ? 'x'.repeat(100_000) : arg)), { cwd, timeoutMs: 60_000 });
  beforeAll(async () => {
    ({ db, dir, events } = await tinyStore('hostile-cli'));
    // Runs start in an empty directory, so that nothing a hostile argument names can land in the repository.
    cwd = scratchDir('hostile-cwd');
  }, 60_000);

  it('boundary values give the documented exit and error codes', async () => {
    const huge = '9'.repeat(400);
    const big = 'x'.repeat(100_000);
    const cases: [string[], number, string][] = [
      [['events', '--db', db, '--from-position', '0'], 2, 'ARGUMENT_INVALID'],
      [['events', '--db', db, '--from-position', '-1'], 2, '*'],
      [['events', '--db', db, '--from-position', huge], 2, 'ARGUMENT_INVALID'],
      [['events', '--db', db, '--from-position', '9007199254740993'], 2, 'ARGUMENT_INVALID'],
      [['events', '--db', db, '--from-position', 'NaN'], 2, 'ARGUMENT_INVALID'],
      [['events', '--db', db, '--until', '2026-02-30T00:00:00Z'], 2, 'ARGUMENT_INVALID'],
      [['events', '--db', db, '--until', '2026-13-01T00:00:00Z', '--json'], 2, 'ARGUMENT_INVALID'],
      [['events', '--db', db, '--until', big], 2, 'ARGUMENT_INVALID'],
      [['events', '--db', db, '--stream', big], 0, ''],
      [['query', '__proto__', '--db', db], 2, '*'],
      [['query', 'flowmachines', '--db', db, '--top', '0'], 2, 'ARGUMENT_INVALID'],
      [['query', 'flowmachines', '--db', db, '--position', '-5'], 2, '*'],
      [['query', 'flowmachines', '--db', db, '--position', '99999999'], 2, 'POSITION_OUT_OF_RANGE'],
      [['query', 'flowmachines', '--db', db, '--as-of', 'Infinity'], 2, 'ARGUMENT_INVALID'],
      [['query', 'flowmachines', '--db', db, '--as-of', '2026-01-01T00:00:00Z', '--position', '3'], 2, 'ARGUMENT_INVALID'],
      [['query', 'flowmachines', '--db', db, '--filter', '('.repeat(50_000)], 2, '*'],
      [['query', 'flowmachines', '--db', db, '--filter', `name eq '${big}'`, '--json'], 0, ''],
      [['query', 'flowmachines', '--db', db, '--select', big], 2, '*'],
      [['query', 'flowmachines', '--db', db, '--orderby', '__proto__ desc'], 2, '*'],
      [['history', 'flowmachines', '__proto__', '--db', db], 2, 'ROW_NOT_FOUND'],
      [['readiness', '--db', db, '--as-of', '-271821-04-20T00:00:01Z'], 0, ''], // the earliest instant a Date holds: valid
      [['readiness', '--db', db, '--as-of', '-271821-04-19T00:00:00Z'], 2, 'ARGUMENT_INVALID'],
      [['watch', 'flowmachines', '--db', db, '--change', 'explode', '--once'], 2, '*'],
      [['watch', '__proto__', '--db', db, '--once'], 2, '*'],
      [['verify', '--db', db, '--expect-head', big], 2, 'ARGUMENT_INVALID'],
      [['verify', '--db', join(dir, 'missing.db')], 2, 'STORE_NOT_FOUND'],
      [['verify', '--db', dir], 2, 'ARGUMENT_INVALID'],
      [['events', '--db', dir, '--json'], 2, 'ARGUMENT_INVALID'],
      [['simulate', '__proto__', '--db', join(cwd, 'p.db')], 2, 'SCENARIO_INVALID'],
      [['simulate', join(dir, 'tiny.json'), '--db', join(cwd, 's.db'), '--seed', '-1'], 2, 'ARGUMENT_INVALID'],
      [['simulate', join(dir, 'tiny.json'), '--db', join(cwd, 's.db'), '--seed', '4294967296', '--json'], 2, 'ARGUMENT_INVALID'],
      [['simulate', join(dir, 'tiny.json'), '--db', db], 2, 'STORE_NOT_EMPTY'],
      [['events', '--db', db, '--eventstore', 'esdb://user:pass@nowhere.invalid:2113'], 1, 'STORE_UNAVAILABLE'],
      [['events', '--eventstore', '__proto__'], 2, 'STORE_INVALID_ARGUMENT'],
      [['frobnicate'], 2, 'USAGE'],
      [['events', '--db', db, '--no-such-option'], 2, 'USAGE'],
      [['events', '--db'], 2, 'USAGE'],
      [['__proto__'], 2, 'USAGE'],
    ];
    const runs = await pool(cases.map(([args]) => () => run(args)), 3);
    runs.forEach((result, i) => {
      const [args, status, code] = cases[i]!;
      const label = `rekey ${args.map((a) => a.slice(0, 40)).join(' ')}`;
      const actual = checkContract(result);
      expect(result.status, `${label}: ${result.stderr.slice(0, 300)}`).toBe(status);
      if (code !== '*' && code !== '') expect(actual, label).toBe(code);
    });
    // The connection string's password never shows.
    expect(runs.find((r) => r.args.includes('esdb://user:pass@nowhere.invalid:2113'))!.stderr).not.toContain('pass@');
  }, 120_000);

  it('fast-check: random commands, options and values never break the contract', async () => {
    // Each command's own options (flags without a value end in '!'), so that most runs get past the
    // argument parser into the command's own checks; now and then an option of another command.
    const OPTIONS: Record<string, string[]> = {
      simulate: ['--seed', '--json!'],
      query: ['--as-of', '--position', '--filter', '--select', '--orderby', '--top', '--count!', '--json!'],
      history: ['--json!'],
      events: ['--stream', '--from-position', '--until', '--json!'],
      replay: ['--until', '--json!'],
      watch: ['--change', '--columns', '--filter', '--from-position', '--json!'],
      readiness: ['--as-of', '--json!'],
      verify: ['--expect-head', '--json!'],
      import: ['--as-of', '--skip-bad!', '--json!'],
    };
    const ALL_OPTIONS = [...new Set(Object.values(OPTIONS).flat()), '--eventstore', '--no-such'];
    const value = fc.oneof(
      fc.constantFrom(
        '9'.repeat(400), '1e309', '-1', '0', '-0', 'NaN', 'Infinity', '0x10', '1.5', '9007199254740993', ' 1', '',
        '2026-13-01T00:00:00Z', '2026-02-30T00:00:00Z', '+275760-09-13T00:00:00Z', '2026-01-01T25:00:00Z', '0000-00-00', '9999-12-31T23:59:59.999Z',
        '__proto__', 'constructor', 'prototype', '{"__proto__":{}}', '--__proto__', '-', '--', 'flowmachines', 'flowmachinegroups',
        'desktopflowconnections', "name eq 'OPS-01'", '(', "'", BIG, '名前😀', '\u202e', 'a\nb', '..', '/', db, dir,
      ),
      fc.string({ unit: 'binary', maxLength: 40 }).filter((text) => !text.includes('\u0000')),
      fc.integer().map(String),
      fc.double().map(String),
    );
    const argv = fc.record({
      command: fc.constantFrom(...Object.keys(OPTIONS), 'nonsense'),
      table: fc.oneof(fc.constantFrom('flowmachines', 'flowmachinegroups', 'desktopflowconnections'), value),
      row: fc.oneof(fc.constantFrom('OPS-01', 'Ops', 'Nightly'), value),
      store: fc.oneof({ weight: 5, arbitrary: fc.constant(['--db', db]) }, { weight: 1, arbitrary: value.map((v) => ['--db', v]) }, { weight: 1, arbitrary: fc.constant([]) }),
      options: fc.array(fc.record({ index: fc.nat(), foreign: fc.nat(9), value }), { minLength: 1, maxLength: 3 }),
    }).map(({ command, table, row, store, options }) => {
      const positional = ['query', 'watch'].includes(command) ? [table] : command === 'history' ? [table, row] : ['simulate', 'import'].includes(command) ? [row] : [];
      const own = OPTIONS[command] ?? ALL_OPTIONS;
      const extras = options.flatMap(({ index, foreign, value: v }) => {
        const name = foreign === 0 ? ALL_OPTIONS[index % ALL_OPTIONS.length]! : own[index % own.length]!;
        return name.endsWith('!') ? [name.slice(0, -1)] : [name, v];
      });
      const args = [command, ...positional, ...store, ...extras];
      return command === 'watch' ? [...args, '--once'] : args; // watch without --once follows the log forever
    });
    let runs = 0;
    const codes = new Map<string, number>();
    await fc.assert(fc.asyncProperty(fc.array(argv, { minLength: 4, maxLength: 4 }), async (batch) => {
      const results = await Promise.all(batch.map((args) => run(args)));
      for (const result of results) {
        runs++;
        const code = checkContract(result) ?? 'ok';
        codes.set(code, (codes.get(code) ?? 0) + 1);
      }
    }), { numRuns: 8, seed: 4242, endOnFailure: true });
    console.log(`hostile CLI: ${runs} random runs, outcomes ${JSON.stringify(Object.fromEntries(codes))}`);
    // Nothing any of them did wrote to the store they were pointed at.
    const store = openSqliteEventStore({ file: db });
    try {
      expect(await store.headPosition()).toBe(events);
      expect(await store.verify()).toMatchObject({ ok: true, checked: events });
    } finally {
      await store.close();
    }
  }, 180_000);

  it('hostile scenario files: SCENARIO_INVALID (exit 2), one line, never a crash', async () => {
    const files = join(scratchDir('hostile-scenarios'), 'x');
    mkdirSync(files, { recursive: true });
    const write = (name: string, content: string | Buffer) => {
      writeFileSync(join(files, name), content);
      return join(files, name);
    };
    const oversized = write('oversized.json', '');
    truncateSync(oversized, 64 * 1024 * 1024 + 1); // sparse: refused by its size before it is read
    const scenarios = [
      write('empty.json', ''),
      write('binary.json', Buffer.from([0xff, 0xfe, 0x00, 0x01, 0xc3, 0x28, 0x7b])),
      write('deep.json', '['.repeat(100_000) + ']'.repeat(100_000)),
      write('proto.json', '{"__proto__": {"start": "2026-01-01T00:00:00Z"}, "constructor": 1}'),
      write('numbers.json', JSON.stringify({ start: '2026-01-01T00:00:00Z', end: '2027-01-01T00:00:00Z', seed: 1e309, groups: [], machines: [] }).replace('null', '1e309')),
      write('huge-string.json', JSON.stringify({ start: 'x'.repeat(1_000_000) })),
      write('bom.json', `\uFEFF${readFileSync(join(dir, 'tiny.json'), 'utf8').slice(0, -3)}`),
      oversized,
      files, // a directory
    ];
    const runs = await pool(scenarios.map((file) => () => run(['simulate', file, '--db', join(cwd, 'never.db')])), 3);
    for (const result of runs) {
      expect(checkContract(result)).toBe('SCENARIO_INVALID');
      expect(result.status).toBe(2);
    }
    const json = await run(['simulate', join(files, 'empty.json'), '--db', join(cwd, 'never.db'), '--json']);
    expect(checkContract(json)).toBe('SCENARIO_INVALID');
  }, 120_000);

  it('damaged SQLite files given to events and verify: STORE_CORRUPT (exit 1)', async () => {
    const original = readFileSync(db);
    const damaged = (name: string, bytes: Buffer) => {
      const file = join(dir, name);
      writeFileSync(file, bytes);
      return file;
    };
    const pageSize = original.readUInt16BE(16);
    const zeroedPage = Buffer.from(original);
    zeroedPage.fill(0, pageSize, 2 * pageSize); // page 2: a b-tree page of the events table or its indexes
    const scribbled = Buffer.from(original);
    for (let i = pageSize; i < scribbled.length; i += 97) scribbled[i] = (scribbled[i]! + 0x55) & 0xff;
    const foreign = join(dir, 'foreign.db');
    const raw = new Database(foreign);
    raw.exec('CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO customers (name) VALUES (\'x\');');
    raw.close();
    const files = [
      damaged('truncated.db', original.subarray(0, Math.floor(original.length / 2))),
      damaged('header-only.db', original.subarray(0, 100)),
      damaged('garbage.db', Buffer.from(Array.from({ length: 8192 }, (_, i) => (i * 7919) % 251))),
      damaged('bad-magic.db', Buffer.concat([Buffer.from('SQLite format 4\0'), original.subarray(16)])),
      damaged('zeroed-page.db', zeroedPage),
      damaged('scribbled.db', scribbled),
      foreign,
      copyStore(db, 'intact.db'),
    ];
    // Each file once, through events or verify in turn, with and without --json.
    const runs = await pool(files.map((file, i) => () => run([i % 2 === 0 ? 'events' : 'verify', '--db', file, ...(i % 4 < 2 ? ['--json'] : [])])), 3);
    for (const result of runs) {
      const file = result.args[2]!;
      const code = checkContract(result);
      if (file.endsWith('intact.db')) expect(code).toBeNull();
      else {
        expect(code, `${result.args.join(' ')}: ${result.stderr}`).toBe('STORE_CORRUPT');
        expect(result.status).toBe(1);
      }
    }
  }, 120_000);
});
