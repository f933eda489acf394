/**
 * `rekey import --from URL` end to end: a real `rekey serve` child process serves a simulated store,
 * the built CLI pulls it page by page (Prefer: odata.maxpagesize), and the result equals a file
 * import of the same tables. Throttling (429/503 with Retry-After) is retried, a server that keeps
 * throttling ends in a clear error, and the bearer token reaches the server but never a message,
 * an event or the store.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, rekey, type CliResult } from '../cli/support.js';

/** The CLI as a child process without blocking this process (its HTTP servers must answer meanwhile). */
function rekeyAsync(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['dist/src/cli/main.js', ...args], { env: { ...process.env, REKEY_DB: '', REKEY_EVENTSTORE: '', REKEY_DATAVERSE_TOKEN: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk) => (stdout += chunk));
    child.stderr!.on('data', (chunk) => (stderr += chunk));
    child.on('exit', (status) => resolve({ status, stdout, stderr }));
  });
}

const TOKEN = 'eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.secret-token-4f1c8e';
let dir: string;
let served: string;
let serve: ChildProcess;
let api: string;

const tables = ['flowmachinegroups', 'flowmachines', 'desktopflowconnections'];
/** The tables of a store as rekey query --json prints them, without the rows' etags. */
function tablesOf(db: string): Record<string, unknown[]> {
  const out: Record<string, unknown[]> = {};
  for (const table of tables) {
    const result = rekey(['query', table, '--db', db, '--json', '--orderby', 'name']);
    expect(result.status, result.stderr).toBe(0);
    out[table] = (json(result).value as Record<string, unknown>[]).map(({ '@odata.etag': _etag, ...row }) => row);
  }
  return out;
}

/** A local HTTP server answering with `handle`; closed by the caller. */
async function local(handle: (request: IncomingMessage, body: (status: number, text: string, headers?: Record<string, string>) => void) => void | Promise<void>): Promise<{ server: Server; url: string }> {
  const server = createServer((request, response) => {
    void handle(request, (status, text, headers = {}) => {
      response.writeHead(status, { 'content-type': 'application/json', ...headers });
      response.end(text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rekey-from-'));
  served = join(dir, 'served.db');
  const simulated = rekey(['simulate', 'examples/branch-office-offline.json', '--db', served, '--json']);
  expect(simulated.status, simulated.stderr).toBe(0);
  serve = spawn(process.execPath, ['dist/src/cli/main.js', 'serve', '--db', served, '--port', '0'], { env: { ...process.env, REKEY_DB: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  api = await new Promise<string>((resolve, reject) => {
    let out = '';
    serve.stdout!.on('data', (chunk) => {
      out += chunk;
      const match = /^(http:\/\/\S+?)\/?\n/m.exec(out);
      if (match) resolve(match[1]!);
    });
    serve.on('exit', (code) => reject(new Error(`rekey serve exited (${code})`)));
  });
}, 180_000);

afterAll(async () => {
  serve?.kill('SIGTERM');
  await new Promise((resolve) => serve?.once('exit', resolve));
  rmSync(dir, { recursive: true, force: true });
});

describe('rekey import --from URL', () => {
  it('pulls every page from a rekey serve and equals a file import of the same tables', async () => {
    // The store through HTTP, one row a page (3 machines: three pages of flowmachines)...
    const pulled = join(dir, 'pulled.db');
    const viaHttp = rekey(['import', '--from', api, '--page-size', '1', '--db', pulled, '--json']);
    expect(viaHttp.status, viaHttp.stderr).toBe(0);
    const report = json<{ groups: number; machines: number; connections: number; files: { file: string; table: string; rows: number }[] }>(viaHttp);
    expect(report).toMatchObject({ groups: 1, machines: 3, connections: 2 });
    expect(report.files.filter((f) => f.table === 'flowmachines').map((f) => f.rows)).toEqual([1, 1, 1]);
    expect(report.files[0]!.file).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api\/data\/v9\.2\/flowmachinegroups\?… \(page 1\)$/);

    // ...and the same tables exported to files and imported from them.
    const files: string[] = [];
    for (const table of tables) {
      const result = rekey(['query', table, '--db', served, '--json']);
      files.push(join(dir, `${table}.json`));
      writeFileSync(files.at(-1)!, result.stdout);
    }
    const fromFiles = join(dir, 'files.db');
    const viaFiles = rekey(['import', ...files, '--db', fromFiles, '--json']);
    expect(viaFiles.status, viaFiles.stderr).toBe(0);
    expect(tablesOf(pulled)).toEqual(tablesOf(fromFiles));
    expect(json<{ observedAt: string }>(viaHttp).observedAt).toBe(json<{ observedAt: string }>(viaFiles).observedAt);

    // --filter on a choice column takes the formatted value, as Dataverse does.
    const byLabel = rekey(['query', 'flowmachines', '--db', pulled, '--filter', "keydeliverystatus eq 'PendingNewKey'", '--select', 'name', '--json']);
    const byCode = rekey(['query', 'flowmachines', '--db', pulled, '--filter', 'keydeliverystatus eq 2', '--select', 'name', '--json']);
    expect(byLabel.status, byLabel.stderr).toBe(0);
    expect(json(byLabel).value).toEqual(json(byCode).value);
    expect((json(byLabel).value as unknown[]).length).toBe((tablesOf(pulled).flowmachines as { keydeliverystatus: number }[]).filter((m) => m.keydeliverystatus === 2).length);
  }, 180_000);

  it('retries 429 and 503 after Retry-After, then gives up with a clear error', async () => {
    let calls = 0;
    const proxy = await local(async (request, answer) => {
      calls++;
      if (calls === 1) return answer(429, '{"error":{"code":"0x80072322","message":"Number of requests exceeded the limit of 6000 over time window of 300 seconds."}}', { 'retry-after': '1' });
      if (calls === 2) return answer(503, '', { 'retry-after': '0' });
      const upstream = await fetch(`${api}${request.url}`, { headers: { prefer: String(request.headers.prefer ?? '') } });
      answer(upstream.status, (await upstream.text()).split(api).join(`http://${request.headers.host}`));
    });
    const pulled = join(dir, 'retried.db');
    const result = await rekeyAsync(['import', '--from', proxy.url, '--db', pulled, '--json']);
    proxy.server.close();
    expect(result.status, result.stderr).toBe(0);
    expect(json(result)).toMatchObject({ groups: 1, machines: 3 });
    expect(calls).toBeGreaterThan(4);

    const throttling = await local((_request, answer) => answer(429, '{"error":{"code":"0x80072322","message":"Number of requests exceeded the limit"}}', { 'retry-after': '0' }));
    const refused = await rekeyAsync(['import', '--from', throttling.url, '--db', join(dir, 'never.db')]);
    throttling.server.close();
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/^rekey: DATAVERSE_UNAVAILABLE: GET http:\/\/127\.0\.0\.1:\d+\/api\/data\/v9\.2\/flowmachinegroups\?… answered 429 Too Many Requests 6 times \(retried 5 times, honouring Retry-After\); the service is throttling or unavailable: try again later, or with a smaller --page-size\n$/);
  }, 120_000);

  it('sends the token as a bearer token, and never shows it: not in errors, events or the store', async () => {
    const tokenFile = join(dir, 'token.txt');
    writeFileSync(tokenFile, `${TOKEN}\n`);
    const seen: string[] = [];
    // A hostile server: it echoes the Authorization header in its error body.
    const echo = await local((request, answer) => {
      seen.push(String(request.headers.authorization));
      answer(401, JSON.stringify({ error: { code: '0x80040220', message: `Invalid token ${String(request.headers.authorization)}` } }));
    });
    const refused = await rekeyAsync(['import', '--from', `${echo.url}/api/data/v9.2`, '--token-file', tokenFile, '--db', join(dir, 'unauthorized.db')]);
    const refusedJson = await rekeyAsync(['import', '--from', `${echo.url}/api/data/v9.2`, '--db', join(dir, 'unauthorized.db'), '--json'], { REKEY_DATAVERSE_TOKEN: TOKEN });
    echo.server.close();
    expect(seen).toEqual([`Bearer ${TOKEN}`, `Bearer ${TOKEN}`]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/^rekey: DATAVERSE_REFUSED: GET http:\/\/127\.0\.0\.1:\d+\/api\/data\/v9\.2\/flowmachinegroups\?… answered 401 Unauthorized \(0x80040220: Invalid token Bearer \[token\]\): the token is missing, expired or not for this environment/);
    for (const result of [refused, refusedJson]) expect(`${result.stdout}${result.stderr}`).not.toContain('secret-token');

    // A successful pull with the token: nothing of it in the log or the read model.
    const pulled = join(dir, 'with-token.db');
    const ok = rekey(['import', '--from', api, '--token-file', tokenFile, '--db', pulled]);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout + ok.stderr).not.toContain('secret-token');
    const events = rekey(['events', '--db', pulled, '--json']);
    expect(events.stdout).not.toContain('secret-token');
    expect(readFileSync(pulled).includes(Buffer.from('secret-token'))).toBe(false);
  }, 120_000);

  it('refuses bad usage: files and --from together, a next link to another host, a URL with credentials', async () => {
    const both = rekey(['import', 'a.json', '--from', api, '--db', join(dir, 'x.db')]);
    expect(both.status).toBe(2);
    expect(both.stderr).toMatch(/^rekey: ARGUMENT_INVALID: --from reads the tables from .*; give either --from or files \(1 given\), not both/);
    const credentials = rekey(['import', '--from', 'https://user:pw@contoso.crm.dynamics.com', '--db', join(dir, 'x.db')]);
    expect(credentials.stderr).toMatch(/^rekey: ARGUMENT_INVALID: --from must not carry credentials in the URL/);
    const elsewhere = await local((_request, answer) => answer(200, JSON.stringify({ value: [], '@odata.nextLink': 'https://attacker.example/api/data/v9.2/flowmachinegroups?$skiptoken=1' })));
    const redirected = await rekeyAsync(['import', '--from', elsewhere.url, '--db', join(dir, 'x.db')], { REKEY_DATAVERSE_TOKEN: TOKEN });
    elsewhere.server.close();
    expect(redirected.status).toBe(1);
    expect(redirected.stderr).toMatch(/answered an @odata\.nextLink to https:\/\/attacker\.example, another host than http:\/\/127\.0\.0\.1:\d+; rekey sends its token only to/);
  }, 60_000);
});
