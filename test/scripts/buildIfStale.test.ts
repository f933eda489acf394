/**
 * scripts/build-if-stale.mjs (run by `npm start`, `npm run demo` and `npm run bench`) on a small real
 * TypeScript project in a temporary folder, with the real tsc: it compiles on a fresh clone and after
 * any change to the build's inputs, and skips tsc only when dist/ is the build of the sources as
 * they are. `--check` tells without building, so most cases cost no tsc run.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const SCRIPT = resolve('scripts/build-if-stale.mjs');
let dir: string;

function run(...extra: string[]): { status: number | null; stderr: string; stdout: string } {
  const result = spawnSync(process.execPath, [SCRIPT, '--project', join(dir, 'tsconfig.build.json'), ...extra], { cwd: dir, encoding: 'utf8' });
  return { status: result.status, stderr: result.stderr, stdout: result.stdout };
}
const build = () => run();
/** 0: dist/ current, 1: stale. */
const check = () => run('--check').status;
const compiled = (r: { stderr: string }) => /compiling TypeScript into dist\/ \(\d+ source files\)/.test(r.stderr);
const skipped = (r: { stderr: string }) => /dist\/ is current \(\d+ source files unchanged\), skipping tsc/.test(r.stderr);
const out = (name: string) => join(dir, 'dist', 'src', name);
const write = (path: string, text: string) => writeFileSync(join(dir, path), text);

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'rekey-build-if-stale-'));
  mkdirSync(join(dir, 'src'));
  mkdirSync(join(dir, 'test'));
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(resolve('node_modules/typescript'), join(dir, 'node_modules', 'typescript'), 'dir');
  write('package.json', JSON.stringify({ name: 'fixture', type: 'module' }));
  write('tsconfig.json', JSON.stringify({
    compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, outDir: 'dist', rootDir: '.', types: [] },
    include: ['src', 'test'],
  }));
  write('tsconfig.build.json', JSON.stringify({ extends: './tsconfig.json', include: ['src'] }));
  write('src/a.ts', 'export const a: number = 1;\n');
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('build-if-stale', () => {
  it('compiles on a fresh clone (no dist/), then skips tsc while nothing changed', () => {
    expect(check()).toBe(1);
    expect(run('--check').stderr).toContain('dist/ is stale: never built by this script, or its last build failed');
    const first = build();
    expect(first.status).toBe(0);
    expect(compiled(first)).toBe(true);
    expect(readFileSync(out('a.js'), 'utf8')).toContain('export const a = 1;');
    const builtAt = statSync(out('a.js')).mtimeMs;
    expect(check()).toBe(0);
    const second = build();
    expect(second.status).toBe(0);
    expect(skipped(second)).toBe(true);
    expect(statSync(out('a.js')).mtimeMs).toBe(builtAt);
  }, 120_000);

  it('is stale after an edit, an added or deleted file, a touch (git checkout) and a tsconfig change; a test file counts for nothing', { timeout: 120_000 }, () => {
    write('src/a.ts', 'export const a: number = 2;\n');
    expect(check()).toBe(1);
    expect(run('--check').stderr).toContain('dist/ is stale: the sources changed since its build');
    write('src/b.ts', 'export const b = "b";\n');
    const rebuilt = build();
    expect(compiled(rebuilt)).toBe(true);
    expect(readFileSync(out('a.js'), 'utf8')).toContain('export const a = 2;');
    expect(existsSync(out('b.js'))).toBe(true);
    expect(check()).toBe(0);

    write('test/t.ts', 'export const t = 1;\n'); // outside tsconfig.build.json's include
    expect(check()).toBe(0);

    write('src/c.ts', 'export const c = 1;\n');
    expect(check()).toBe(1);
    unlinkSync(join(dir, 'src', 'c.ts'));
    expect(check()).toBe(0);

    unlinkSync(join(dir, 'src', 'b.ts'));
    expect(check()).toBe(1);
    write('src/b.ts', 'export const b = "b";\n'); // the same bytes again, but a new mtime
    expect(check()).toBe(1);

    const later = new Date(Date.now() + 5_000);
    utimesSync(join(dir, 'src', 'a.ts'), later, later);
    expect(check()).toBe(1);

    write('tsconfig.build.json', JSON.stringify({ extends: './tsconfig.json', include: ['src'], compilerOptions: { removeComments: true } }));
    expect(check()).toBe(1);
  });

  it('a failed build writes no fingerprint, so the next run compiles again', () => {
    write('src/a.ts', 'export const a: number = "not a number";\n');
    const failed = build();
    expect(failed.status).not.toBe(0);
    expect(failed.stdout).toContain("Type 'string' is not assignable to type 'number'");
    expect(check()).toBe(1);

    write('src/a.ts', 'export const a: number = 3;\n');
    const fixed = build();
    expect(fixed.status).toBe(0);
    expect(compiled(fixed)).toBe(true);
    expect(readFileSync(out('a.js'), 'utf8')).toContain('export const a = 3;');
    expect(check()).toBe(0);
  }, 120_000);

  it('is what npm start, npm run demo and npm run bench run before node', () => {
    const scripts = (JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> }).scripts;
    for (const name of ['start', 'demo', 'bench']) expect(scripts[name]).toMatch(/^node scripts\/build-if-stale\.mjs && node dist\//);
  });
});
