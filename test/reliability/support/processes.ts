/**
 * Real child processes for the reliability tests: worker scripts of this folder (transpiled once to
 * plain JavaScript in a temporary directory; they load the built engine from dist/, which
 * test/globalSetup.ts builds before any suite runs) and the built `rekey` binary.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { scratchDir } from './scratch.js';

const HERE = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = resolve(HERE, '../../..');
export const CLI = join(REPO_ROOT, 'dist/src/cli/main.js');

let compiled: string | undefined;
/** Transpiles the worker scripts of support/ (types stripped, no type check) into one temporary directory. */
export function compiledWorkers(): string {
  if (compiled) return compiled;
  const dir = scratchDir('workers'); // removed by the test file's afterAll(removeScratchDirs)
  writeFileSync(join(dir, 'package.json'), '{"type": "module"}\n');
  for (const name of ['crashPlan', 'crashWorker', 'concurrencyWorker', 'importWorker']) {
    const source = readFileSync(join(HERE, `${name}.ts`), 'utf8');
    const { outputText } = ts.transpileModule(source, {
      fileName: `${name}.ts`,
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    });
    // The copies run outside the repository: their imports of src/ go to the build that globalSetup made.
    writeFileSync(join(dir, `${name}.js`), outputText.replaceAll("from '../../../src/", `from '${REPO_ROOT}/dist/src/`));
  }
  compiled = dir;
  return dir;
}

export interface Worker {
  readonly child: ChildProcess;
  /** Resolves when the process has exited and its output is read to the end. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

/** Starts a worker script with one JSON argument; every stdout line is handed to `onLine` as parsed JSON. */
export function startWorker(name: string, argument: unknown, onLine: (value: unknown) => void): Worker {
  const child = spawn(process.execPath, [join(compiledWorkers(), `${name}.js`), JSON.stringify(argument)], {
    env: { ...process.env, REKEY_ROOT: REPO_ROOT },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const lines = createInterface({ input: child.stdout! });
  const linesDone = new Promise<void>((done) => lines.on('close', done));
  lines.on('line', (line) => {
    if (line.trim() !== '') onLine(JSON.parse(line));
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((done) => {
    child.on('close', (code, signal) => void linesDone.then(() => done({ code, signal, stderr })));
  });
  return { child, exited };
}

export interface CliRun {
  readonly args: readonly string[];
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/** Runs the built `rekey` binary (asynchronously, so that several can run at once). */
export function runCli(args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliRun> {
  const started = performance.now();
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: options.cwd ?? REPO_ROOT,
      env: { ...process.env, REKEY_DB: '', REKEY_EVENTSTORE: '', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 60_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', fail);
    child.on('close', (status, signal) => done({ args, status, signal, stdout, stderr, ms: performance.now() - started }));
  });
}

/** Runs tasks with at most `limit` of them at a time, results in task order. */
export async function pool<T>(tasks: readonly (() => Promise<T>)[], limit: number): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  const lane = async () => {
    while (next < tasks.length) {
      const index = next++;
      results[index] = await tasks[index]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, lane));
  return results;
}

/** The CLI's error contract (docs/contract.md, section 4) on one finished run; returns the error code, or null for success. */
export function cliOutcome(run: CliRun): { ok: true } | { ok: false; code: string; message: string } {
  return run.status === 0 ? { ok: true } : parseCliError(run);
}

function parseCliError(run: CliRun): { ok: false; code: string; message: string } {
  const json = run.args.includes('--json');
  const line = run.stderr.replace(/\n$/, '');
  if (json) {
    const parsed = JSON.parse(line) as { error: { code: string; message: string } };
    return { ok: false, code: parsed.error.code, message: parsed.error.message };
  }
  const match = /^rekey: ([A-Z][A-Z0-9_]*): (.+)$/s.exec(line);
  if (!match) throw new Error(`stderr is not "rekey: CODE: message": ${JSON.stringify(run.stderr.slice(0, 500))}`);
  return { ok: false, code: match[1]!, message: match[2]! };
}
