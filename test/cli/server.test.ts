/**
 * The admin commands through a running `rekey serve` (--server URL): the same commands, the same
 * JSON and the same exit codes as on the store itself; `Authorization: Bearer <token>` from
 * --token-file or REKEY_TOKEN (checked against a plain HTTP server that records what it is sent and
 * refuses it); a run queued for the machines of its target; `serve --create` on a new file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, rekey, rekeyAsync } from './support.js';

const dir = mkdtempSync(join(tmpdir(), 'rekey-server-cli-'));
const served = join(dir, 'served.db');
const children: ChildProcess[] = [];

/** `rekey serve ARGS` as a child process; resolves with its URL once it prints it. */
function serve(args: string[]): Promise<string> {
  const child = spawn(process.execPath, ['dist/src/cli/main.js', 'serve', '--port', '0', ...args], { env: { ...process.env, REKEY_DB: '', REKEY_EVENTSTORE: '', PORT: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    let stdout = '';
    child.stdout!.on('data', (chunk) => {
      stdout += chunk;
      const match = /^(http:\/\/\S+?)\/?\n/m.exec(stdout);
      if (match) resolve(match[1]!);
    });
    child.on('exit', (code) => reject(new Error(`rekey serve exited (${code}): ${stderr}`)));
  });
}

let url: string;
beforeAll(async () => {
  expect(rekey(['simulate', 'examples/branch-office-offline.json', '--db', join(dir, 'pristine.db')]).status).toBe(0);
  copyFileSync(join(dir, 'pristine.db'), served);
  url = await serve(['--db', served]);
}, 120_000);

afterAll(async () => {
  for (const child of children) {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

const remote = (args: string[], input?: string) => rekey([...args, '--server', url], { REKEY_TOKEN: 'test-token' }, input);

describe('admin commands with --server', () => {
  it('group create, set (dry run first: nothing written), show and explain answer as on the store', () => {
    const created = json<any>(remote(['group', 'create', 'Ops', '--json']));
    expect(created.events).toEqual([expect.objectContaining({ type: 'GroupCreated', data: expect.objectContaining({ name: 'Ops', keyValidityPeriod: 2628000 }) })]);
    const headBefore = json<any>(remote(['group', 'show', 'Ops', '--json'])).position;
    const dry = json<any>(remote(['group', 'set', 'Branch-Lyon', '--grace', '64800', '--dry-run', '--json']));
    expect(dry).toMatchObject({ dryRun: true, position: headBefore });
    expect(dry.events.map((e: any) => e.type)).toEqual(['KeyExpiryGracePeriodChanged']);
    expect(dry.forecast.differences).toContainEqual(expect.objectContaining({ group: 'Branch-Lyon', field: 'renewalStart' }));
    expect(json<any>(remote(['group', 'show', 'Ops', '--json'])).position).toBe(headBefore);
    const refused = remote(['group', 'set', 'Branch-Lyon', '--grace', '64799']);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/^rekey: (GRACE_OUT_OF_RANGE|REQUEST_INVALID): /);
    const unknown = remote(['group', 'delete', 'Nowhere', '--yes']);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/^rekey: GROUP_NOT_FOUND: machine group Nowhere not found/);

    const viaServer = json<any>(remote(['explain', 'flowmachines', 'LYO-03', '--as-of', '2030-09-01T00:00:00Z', '--json']));
    const direct = json<any>(rekey(['explain', 'flowmachines', 'LYO-03', '--as-of', '2030-09-01T00:00:00Z', '--db', join(dir, 'pristine.db'), '--json']));
    expect(viaServer).toEqual(direct);
    const plan = json<any>(remote(['plan', '--as-of', '2030-01-01T00:00:00Z', '--json']));
    expect(plan).toEqual(json<any>(rekey(['plan', '--as-of', '2030-01-01T00:00:00Z', '--db', join(dir, 'pristine.db'), '--json'])));
  }, 120_000);

  it('machine remove, connection create (credentials on stdin, over loopback) and connection run, queued for the machines', () => {
    const removed = json<any>(remote(['machine', 'remove', 'LYO-02', '--json']));
    expect(removed.events.map((e: any) => [e.type, e.data.machine])).toEqual([['MachineLeft', 'LYO-02']]);
    const created = remote(['connection', 'create', 'Payroll', '--group', 'Branch-Lyon', '--json'], 'CONTOSO\\svc-payroll\nPayr0ll-secret\n');
    expect(created.status, created.stderr).toBe(0);
    expect(json<any>(created).events.map((e: any) => e.type)).toEqual(['ConnectionCreated']);
    const run = json<any>(remote(['connection', 'run', 'Payroll', '--json']));
    expect(run.queuedRuns).toEqual([{ connection: 'Payroll', runId: expect.stringMatching(/^[0-9a-f-]{36}$/) }]);
    expect(remote(['connection', 'run', 'Payroll']).stdout).toMatch(/is queued: the first machine of its target/);
  });

  it('R18: a run of a connection that needs fixing is refused (exit 1); the failed run is recorded', () => {
    expect(json<any>(remote(['group', 'delete', 'Branch-Lyon', '--yes', '--json'])).events.map((e: any) => e.type)).toContain('GroupDeleted');
    const refused = remote(['connection', 'run', 'Shipping']);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/^rekey: CONNECTION_NEEDS_FIX: desktop flow connection Shipping needs fixing/);
    const shown = json<any>(remote(['connection', 'show', 'Shipping', '--json']));
    expect(shown.row.status).toBe('Fix connection');
    const history = json<any>(rekey(['history', 'desktopflowconnections', 'Shipping', '--db', served, '--json']));
    expect(history.changes.map((c: any) => c.event)).toContain('ConnectionNeedsFix');
  });
});

describe('--server errors and the token', () => {
  it('sends Authorization: Bearer from --token-file or REKEY_TOKEN, and reports the service\'s refusal with its code', async () => {
    const seen: IncomingHttpHeaders[] = [];
    const guard = createServer((request, response) => {
      seen.push(request.headers);
      response.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'TOKEN_INVALID', message: 'the token is not one this service issued' } }));
    });
    await new Promise<void>((resolve) => guard.listen(0, '127.0.0.1', resolve));
    const guardUrl = `http://127.0.0.1:${(guard.address() as { port: number }).port}`;
    try {
      const file = join(dir, 'token');
      writeFileSync(file, 'from-the-file\n');
      const result = await rekeyAsync(['group', 'show', 'Finance', '--server', guardUrl, '--token-file', file]);
      expect(result.status).toBe(1);
      expect(result.stderr).toBe('rekey: TOKEN_INVALID: the token is not one this service issued\n');
      const fromEnv = await rekeyAsync(['group', 'create', 'X', '--server', guardUrl, '--json'], { REKEY_TOKEN: 'from-the-env' });
      expect(JSON.parse(fromEnv.stderr)).toEqual({ error: { code: 'TOKEN_INVALID', message: 'the token is not one this service issued' } });
      expect(seen.map((headers) => headers.authorization)).toEqual(['Bearer from-the-file', 'Bearer from-the-env']);
      expect(seen[1]!['content-type']).toBe('application/json');
    } finally {
      guard.close();
    }
    expect(rekey(['group', 'show', 'X', '--server', guardUrl, '--token-file', join(dir, 'missing')]).stderr).toMatch(/^rekey: ARGUMENT_INVALID: --token-file .*missing cannot be read/);
  });

  it('an unreachable service exits 1 naming it; --server with --db, or a bad URL, exits 2', () => {
    const down = rekey(['group', 'show', 'Finance', '--server', 'http://127.0.0.1:9']);
    expect(down.status).toBe(1);
    expect(down.stderr).toMatch(/^rekey: SERVER_UNREACHABLE: the rekey service at http:\/\/127\.0\.0\.1:9 did not answer GET \/api\/tables/);
    expect(rekey(['group', 'show', 'Finance', '--server', url, '--db', served]).stderr).toMatch(/^rekey: USAGE: give --server .* or --db\/--eventstore .*, not both/);
    expect(rekey(['group', 'show', 'Finance', '--server', 'ftp://x']).status).toBe(2);
  });

  it('serve --create starts a new store at a new path, where the admin commands then work', async () => {
    const fresh = join(dir, 'new', 'fresh.db');
    const freshUrl = await serve(['--db', fresh, '--create']);
    expect(existsSync(fresh)).toBe(true);
    const created = rekey(['group', 'create', 'Finance', '--server', freshUrl, '--json']);
    expect(created.status, created.stderr).toBe(0);
    expect(json<any>(rekey(['group', 'show', 'Finance', '--server', freshUrl, '--json'])).row.name).toBe('Finance');
  }, 60_000);
});
