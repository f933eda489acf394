/**
 * `rekey serve` as a process: it prints the URL on stdout, listens on 127.0.0.1, answers /health and
 * the dashboard, and stops cleanly (exit 0) on SIGTERM and on SIGINT (the signal handlers are in place
 * before the URL is printed, so a caller may stop it as soon as it has read the URL).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pooledKeyPairSource } from '../../src/crypto/keys.js';
import { loadScenarioFile } from '../../src/simulation/loader.js';
import { simulate } from '../../src/simulation/simulator.js';
import { openSqliteEventStore } from '../../src/store/sqlite.js';
import { example, ROOT } from './support/fixtures.js';

let dir: string;
let db: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rekey-serve-'));
  db = join(dir, 'rekey.db');
  const store = openSqliteEventStore({ file: db });
  await simulate(loadScenarioFile(example('shortened-validity')), { store, keys: pooledKeyPairSource({ size: 4, recycle: true }) });
  await store.close();
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function serve(args: string[]): { child: ChildProcess; url: Promise<string>; exit: Promise<{ code: number | null; stderr: string }> } {
  const child = spawn(process.execPath, ['--import', join(ROOT, 'test/store/support/register.mjs'), join(ROOT, 'src/cli/main.ts'), 'serve', ...args], {
    cwd: dir,
    env: { ...process.env, REKEY_DB: '', REKEY_EVENTSTORE: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const url = new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (chunk) => {
      stdout += chunk;
      const match = /^(http:\/\/\S+)\n/m.exec(stdout);
      if (match) resolve(match[1]!);
    });
    child.on('exit', (code) => reject(new Error(`rekey serve exited (${code}) before printing its URL: ${stderr}`)));
  });
  const exit = new Promise<{ code: number | null; stderr: string }>((resolve) => child.on('exit', (code, signal) => resolve({ code, stderr: `${stderr}${signal ? ` (killed by ${signal})` : ''}` })));
  return { child, url, exit };
}

describe('rekey serve', () => {
  it('prints its URL, serves the API and the dashboard on 127.0.0.1, and stops cleanly on SIGTERM', async () => {
    const { child, url, exit } = serve(['--db', db, '--port', '0']);
    try {
      const base = await url;
      expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      const health = await fetch(`${base}health`);
      expect(health.status).toBe(200);
      const page = await fetch(base, { redirect: 'manual' });
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('rekey');
      const groups = await (await fetch(`${base}api/data/v9.2/flowmachinegroups?$select=name`)).json();
      expect(groups.value.length).toBeGreaterThan(0);
      const bad = await fetch(`${base}api/data/v9.2/flowmachines?$orderby=name%20upward`);
      expect(bad.status).toBe(400);
      expect(Object.keys((await bad.json()).error)).toEqual(['code', 'message']);
    } finally {
      child.kill('SIGTERM');
    }
    const { code, stderr } = await exit;
    expect(code).toBe(0);
    expect(stderr).toContain('server stopped');
  });

  it('stops on SIGINT too', async () => {
    const { child, url, exit } = serve(['--db', db, '--port', '0']);
    await url;
    child.kill('SIGINT');
    const stopped = await exit;
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(stopped.stderr).toContain('server stopped');
  });
});
