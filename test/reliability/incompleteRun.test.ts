/**
 * A simulation killed part-way (issue 18): the built `rekey simulate` is sent SIGKILL at two points
 * of a run (a third and four fifths of the way, by the number of events it has written). A simulation is
 * not one transaction (it is the engine's own command stream), so what it leaves is either nothing
 * or a log with its `SimulationStarted` marker and no `SimulationEnded`, and every reader says so:
 * `rekey query`, `rekey readiness` and `rekey forecast` print the tables with a warning line
 * `rekey: warning: SIMULATION_INCOMPLETE: ...` on stderr (`{"warning": ...}` with --json), `rekey
 * verify` fails (exit 1, reason `incomplete`), and `rekey serve` warns on start-up and lists it
 * under `warnings` in /health. A complete run draws no warning from any of them.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, REPO_ROOT, runCli } from './support/processes.js';
import { removeScratchDirs, scratchDir } from './support/scratch.js';
import { getJson, startServe } from './support/servers.js';

afterAll(removeScratchDirs);

const SCENARIO = join(REPO_ROOT, 'examples/branch-office-offline.json');

/** The head of a store another process is writing, read through a raw read-only handle (0 while there is none). */
function headOf(db: string): number {
  if (!existsSync(db)) return 0;
  try {
    const raw = new Database(db, { readonly: true, fileMustExist: true });
    try {
      return raw.prepare<[], number | null>('SELECT MAX(position) FROM events').pluck().get() ?? 0;
    } finally {
      raw.close();
    }
  } catch {
    return 0; // the file exists but its schema is not committed yet
  }
}

/** `rekey simulate` killed once it has written at least `events` events. */
async function simulateKilledAt(db: string, events: number): Promise<void> {
  const child = spawn(process.execPath, [CLI, 'simulate', SCENARIO, '--db', db], { cwd: REPO_ROOT, env: { ...process.env, REKEY_DB: '' }, stdio: 'ignore' });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  const poll = setInterval(() => {
    if (headOf(db) >= events) child.kill('SIGKILL');
  }, 20);
  const signal = await exited;
  clearInterval(poll);
  expect(signal, 'the run was killed before it ended').toBe('SIGKILL');
}

const WARNING = /^rekey: warning: SIMULATION_INCOMPLETE: the simulation in this log \(seed \d+, from \S+ to \S+\) did not finish: the log stops at position \d+ /;

describe('rekey simulate killed part-way', () => {
  it('leaves a run that every reader reports as incomplete; a complete run draws no warning', async () => {
    const dir = scratchDir('incomplete');
    const complete = join(dir, 'complete.db');
    const full = await runCli(['simulate', SCENARIO, '--db', complete]);
    expect(full.status, full.stderr).toBe(0);
    const total = headOf(complete);
    expect(total).toBeGreaterThan(200);
    for (const args of [['query', 'flowmachinegroups'], ['readiness'], ['verify']]) {
      const run = await runCli([...args, '--db', complete]);
      expect({ args, status: run.status, stderr: run.stderr }).toEqual({ args, status: 0, stderr: '' });
    }

    for (const share of [0.3, 0.8]) {
      const db = join(dir, `killed-${share}.db`);
      await simulateKilledAt(db, Math.round(total * share));
      const head = headOf(db);
      expect(head).toBeGreaterThan(0);
      expect(head).toBeLessThan(total);

      const query = await runCli(['query', 'flowmachinegroups', '--db', db]);
      expect(query.status).toBe(0);
      expect(query.stdout.split('\n').length).toBeGreaterThan(3); // the tables as far as the run got
      expect(query.stderr).toMatch(WARNING);
      expect(query.stderr.split('\n').filter(Boolean)).toHaveLength(1);

      const json = await runCli(['query', 'flowmachines', '--db', db, '--json']);
      expect(json.status).toBe(0);
      expect(JSON.parse(json.stdout)).toHaveProperty('value');
      expect(JSON.parse(json.stderr)).toEqual({ warning: { code: 'SIMULATION_INCOMPLETE', message: expect.stringContaining(`stops at position ${head} `) } });

      const readiness = await runCli(['readiness', '--db', db]);
      expect(readiness.status).toBe(0);
      expect(readiness.stderr).toMatch(WARNING);

      const forecast = await runCli(['forecast', '--db', db]);
      expect(forecast.status, forecast.stderr).toBe(0);
      expect(forecast.stderr).toMatch(WARNING);

      const verify = await runCli(['verify', '--db', db, '--json']);
      expect(verify.status).toBe(1);
      expect(JSON.parse(verify.stdout)).toEqual({ ok: false, position: head + 1, reason: 'incomplete', checked: head, message: expect.stringContaining('did not finish') });

      if (share === 0.3) {
        const server = await startServe(['--db', db]);
        try {
          expect(server.stderr()).toMatch(WARNING);
          const health = await getJson(server.url, '/health');
          expect(health.status).toBe(200);
          expect(health.body).toMatchObject({ status: 'ok', warnings: [{ code: 'SIMULATION_INCOMPLETE', message: expect.stringContaining('did not finish') }] });
        } finally {
          expect((await server.stop()).code).toBe(0);
        }
      }
    }
  }, 240_000);
});
