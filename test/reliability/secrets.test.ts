/**
 * Secrets (docs/model.md, Events): for every example scenario, no password, username or
 * credential of the scenario file appears in any byte rekey writes or prints, and no private key a
 * machine generated appears in the store.
 * - Through the built CLI: `simulate --db`, `events --json`, `verify` and `query` (which writes the
 *   read model beside the store); every file in the store's directory (db, -wal, -shm, read model)
 *   and every byte of stdout and stderr are scanned.
 * - The CLI cannot show the machines' keys, so the same scenario also runs in-process through
 *   `simulate()` on a SQLite store with a key source that records every key pair it hands out; the
 *   store's files are scanned for those private keys (and the strings) while the store is still open
 *   (the -wal holds the newest pages) and again after it is closed.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadScenarioFile } from '../../src/simulation/loader.js';
import { simulate } from '../../src/simulation/simulator.js';
import { openSqliteEventStore } from '../../src/store/sqlite.js';
import { recordingKeySource, secretsFound } from '../engine/secrets.js';
import { REPO_ROOT, runCli } from './support/processes.js';
import { removeScratchDirs, scratchDir } from './support/scratch.js';

const EXAMPLES = readdirSync(join(REPO_ROOT, 'examples')).filter((name) => name.endsWith('.json')).sort();
const SECRET_FIELD = /password|username|credential|secret/i;

/** Every string under a key that names a secret, anywhere in the scenario file. */
function secretStrings(value: unknown, key = ''): string[] {
  if (typeof value === 'string') return SECRET_FIELD.test(key) ? [value] : [];
  if (Array.isArray(value)) return value.flatMap((item) => secretStrings(item, key));
  if (value !== null && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => secretStrings(v, k));
  return [];
}

const filesIn = (dir: string) => readdirSync(dir).map((name) => ({ name, bytes: readFileSync(join(dir, name)) }));

afterAll(removeScratchDirs);

describe('no secret of any example reaches a byte of storage or output', () => {
  it('finds secrets in every example file (the scan has something to look for)', () => {
    expect(EXAMPLES.length).toBeGreaterThanOrEqual(5);
    for (const example of EXAMPLES) {
      const strings = secretStrings(JSON.parse(readFileSync(join(REPO_ROOT, 'examples', example), 'utf8')));
      expect(strings.length, example).toBeGreaterThan(0);
    }
  });

  describe.each(EXAMPLES)('%s', (example) => {
    const path = join(REPO_ROOT, 'examples', example);
    const strings = [...new Set(secretStrings(JSON.parse(readFileSync(path, 'utf8'))))];

    it('through the built CLI (simulate, events --json, verify, query) and in-process with recorded keys', async () => {
      const cliDir = scratchDir('secrets-cli');
      const db = join(cliDir, `${basename(example, '.json')}.db`);
      const cli = (async () => {
        const runs = [await runCli(['simulate', path, '--db', db, '--json'])];
        expect(runs[0]!.status, runs[0]!.stderr).toBe(0);
        runs.push(await runCli(['events', '--db', db, '--json']));
        runs.push(await runCli(['verify', '--db', db]));
        runs.push(await runCli(['query', 'desktopflowconnections', '--db', db, '--json']));
        for (const run of runs) expect(run.status, `${run.args.join(' ')}: ${run.stderr}`).toBe(0);
        const haystacks = [...filesIn(cliDir).map((f) => f.bytes), ...runs.flatMap((run) => [Buffer.from(run.stdout), Buffer.from(run.stderr)])];
        expect(haystacks.length).toBeGreaterThanOrEqual(4 * 2 + 1);
        expect(secretsFound(haystacks, { strings, privateKeys: [] })).toEqual([]);
        return runs.reduce((bytes, run) => bytes + run.stdout.length + run.stderr.length, 0);
      })();

      const inProcess = (async () => {
        const dir = scratchDir('secrets-engine');
        const file = join(dir, 'rekey.db');
        const store = openSqliteEventStore({ file });
        const keys = recordingKeySource();
        const result = await simulate(loadScenarioFile(path), { store, keys });
        const privateKeys = keys.generated.map((pair) => pair.privateKey);
        const open = filesIn(dir);
        expect(open.map((f) => f.name)).toContain('rekey.db-wal');
        expect(secretsFound(open.map((f) => f.bytes), { strings, privateKeys })).toEqual([]);
        await store.close();
        expect(secretsFound(filesIn(dir).map((f) => f.bytes), { strings, privateKeys })).toEqual([]);
        return { keys: keys.generated.length, events: result.engine.fleet.position };
      })();

      const [outputBytes, engine] = await Promise.all([cli, inProcess]);
      console.log(`secrets ${example}: ${JSON.stringify({ secretStrings: strings.length, privateKeys: engine.keys, events: engine.events, cliOutputBytes: outputBytes })}`);
    }, 120_000);
  });
});
