/**
 * Start-up of the `rekey` binary: only the module of the command being run is loaded, so that
 * `rekey --version` loads no store, no server and no crypto library, and `rekey query` no server, no
 * crypto and no EventStoreDB client (their CPU cost is measured side by side in `npm run bench`, never
 * asserted here). `rekey` alone prints the help and exits 0.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rekey } from './support.js';

const dir = mkdtempSync(join(tmpdir(), 'rekey-startup-'));
const db = join(dir, 'small.db');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The packages (node_modules/<name>) a run of `rekey args` loads. */
function packagesLoaded(args: string[]): { status: number | null; packages: Set<string> } {
  const record = join(dir, `loads-${args[0]}.txt`);
  const result = spawnSync(process.execPath, ['--import', './test/cli/support/recordLoads.mjs', 'dist/src/cli/main.js', ...args], {
    encoding: 'utf8',
    env: { ...process.env, REKEY_DB: '', REKEY_EVENTSTORE: '', REKEY_TEST_LOADS: record },
  });
  const urls = readFileSync(record, 'utf8').split('\n').filter(Boolean);
  const packages = new Set(urls.flatMap((url) => /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1] ?? []));
  return { status: result.status, packages };
}

const HEAVY = ['better-sqlite3', 'fastify', 'node-forge', '@eventstore/db-client', 'prom-client', 'rxjs', 'luxon'];

describe('rekey start-up', () => {
  beforeAll(() => {
    expect(rekey(['simulate', 'examples/healthy-fleet.json', '--db', db]).status).toBe(0);
  }, 120_000);

  it('--version loads commander alone', () => {
    const { status, packages } = packagesLoaded(['--version']);
    expect(status).toBe(0);
    expect([...packages]).toEqual(['commander']);
  });

  it('query loads the store and the tables, but no server, no crypto and no EventStoreDB client', () => {
    const { status, packages } = packagesLoaded(['query', 'flowmachinegroups', '--db', db, '--select', 'name']);
    expect(status).toBe(0);
    expect(packages.has('better-sqlite3')).toBe(true);
    for (const heavy of ['fastify', 'node-forge', '@eventstore/db-client', 'prom-client']) expect(packages.has(heavy), heavy).toBe(false);
  });

  it('the recorder sees the heavy packages where they are used (serve --help loads fastify)', () => {
    const { packages } = packagesLoaded(['serve', '--help']);
    expect(packages.has('fastify')).toBe(true);
    expect(HEAVY.filter((name) => packages.has(name)).length).toBeGreaterThan(2);
  });

  it('rekey alone prints the help with every command and exits 0', () => {
    const result = rekey([]);
    expect(result.status).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/^Usage: rekey \[options\] \[command\]/);
    for (const command of ['simulate', 'query', 'serve', 'agent']) expect(result.stdout).toContain(`\n  ${command} `);
    expect(rekey(['--help']).stdout).toBe(result.stdout);
  });
});
