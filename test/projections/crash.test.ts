/**
 * Crash safety of the read model: a real child process rebuilding (then catching up) a big log is
 * killed with SIGKILL mid-way, several times; whatever the file holds at each kill is the tables as of
 * its checkpoint, and once restarted the tables equal a clean rebuild.
 *
 * The child runs the built code in dist/ (test/globalSetup.ts builds it before the suites; this file
 * builds it again only if a source is newer than its output).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteEventStore, type SqliteEventStore } from '../../src/store/sqlite.js';
import { writeSyntheticLog } from '../../bench/projectionLog.js';
import { openReadModel, tablesAt, TABLES } from '../../projections/index.js';

const here = new URL('.', import.meta.url).pathname;
const root = join(here, '..', '..');
const EVENTS = 30_000;

interface Line {
  kind: 'progress' | 'committed' | 'done';
  position: number;
  applied?: number;
  head?: number;
}

/** Builds dist/ when any source under src/ or projections/ is newer than its compiled file. */
function ensureBuilt(): void {
  const sources = (dir: string): string[] => readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sources(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : []);
  const stale = ['src', 'projections'].flatMap(sources).some((source) => {
    const built = join(root, 'dist', source.replace(/\.ts$/, '.js'));
    return !existsSync(built) || statSync(built).mtimeMs < statSync(join(root, source)).mtimeMs;
  });
  if (stale) spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'ignore' });
}

/** Runs the worker until `killWhen` says so (then SIGKILL), or to its end. */
function runWorker(eventsFile: string, readFile: string, mode: string, killWhen: (line: Line) => boolean) {
  const child = spawn(process.execPath, [join(here, 'support/rebuildWorker.mjs'), eventsFile, readFile, mode], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Line[] = [];
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  createInterface({ input: child.stdout }).on('line', (text) => {
    const line = JSON.parse(text) as Line;
    lines.push(line);
    if (killWhen(line)) child.kill('SIGKILL');
  });
  return new Promise<{ lines: Line[]; signal: NodeJS.Signals | null; code: number | null; stderr: string }>((resolve) => {
    child.on('close', (code, signal) => resolve({ lines, signal, code, stderr }));
  });
}

describe('a read model runner killed mid-rebuild', () => {
  const base = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  const dir = mkdtempSync(join(base, 'rekey-crash-'));
  const eventsFile = join(dir, 'rekey.db');
  const readFile = join(dir, 'rekey.db.read.db');
  let store: SqliteEventStore;
  let head = 0;

  beforeAll(async () => {
    ensureBuilt();
    await writeSyntheticLog({ file: eventsFile, events: EVENTS, groups: 30, seed: 7 });
    store = openSqliteEventStore({ file: eventsFile, readonly: true });
    head = await store.headPosition();
  }, 180_000);

  afterAll(async () => {
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The file, opened as it was left, holds exactly the tables as of its checkpoint. */
  const expectConsistentFile = async () => {
    const model = openReadModel({ store, file: readFile });
    const checkpoint = model.checkpoint();
    const expected = await tablesAt(store, { position: checkpoint.position });
    for (const table of TABLES) expect(model.rows(table)).toEqual(expected.tables[table]);
    const snapshots = model.snapshotPositions();
    await model.close();
    return { checkpoint, snapshots };
  };

  it('resumes from its snapshots after each kill, and ends with the tables of a clean rebuild', async () => {
    // 1. Killed while rebuilding from 0: the rows are written at the end, so the file still says 0.
    const first = await runWorker(eventsFile, readFile, 'rebuild', (line) => line.kind === 'progress' && line.position >= head * 0.4);
    expect(first.signal, first.stderr).toBe('SIGKILL');
    const afterFirst = await expectConsistentFile();
    expect(afterFirst.checkpoint.position).toBe(0);
    expect(afterFirst.snapshots.length).toBeGreaterThanOrEqual(2);

    // 2. Restarted, it resumes from its latest snapshot (not from 0) and is killed again.
    const second = await runWorker(eventsFile, readFile, 'resume', (line) => line.kind === 'progress' && line.position >= head * 0.7);
    expect(second.signal, second.stderr).toBe('SIGKILL');
    const firstProgress = second.lines.find((line) => line.kind === 'progress')!;
    expect(firstProgress.position - firstProgress.applied!).toBe(afterFirst.snapshots[afterFirst.snapshots.length - 1]);
    await expectConsistentFile();

    // 3. Caught up step by step (each step commits rows with the checkpoint), killed between commits.
    rmSync(readFile, { force: true });
    rmSync(`${readFile}-wal`, { force: true });
    rmSync(`${readFile}-shm`, { force: true });
    const third = await runWorker(eventsFile, readFile, 'steps', (line) => line.kind === 'committed' && line.position >= head * 0.5);
    expect(third.signal, third.stderr).toBe('SIGKILL');
    const afterThird = await expectConsistentFile();
    expect(afterThird.checkpoint.position).toBeGreaterThan(0);
    expect(afterThird.checkpoint.position).toBeLessThan(head);

    // 4. Restarted to the end: the tables equal a clean rebuild in a file of its own.
    const last = await runWorker(eventsFile, readFile, 'resume', () => false);
    expect(last.code, last.stderr).toBe(0);
    const resumed = openReadModel({ store, file: readFile });
    const clean = openReadModel({ store, file: join(dir, 'clean.read.db') });
    await clean.rebuild();
    expect(resumed.checkpoint()).toEqual(clean.checkpoint());
    for (const table of TABLES) expect(resumed.rows(table)).toEqual(clean.rows(table));
    for (const table of TABLES) expect(resumed.findRows(table, 'Group-001')).toEqual(clean.findRows(table, 'Group-001'));
    await resumed.close();
    await clean.close();
  }, 90_000);
});
