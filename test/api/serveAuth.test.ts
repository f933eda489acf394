/**
 * Tokens and TLS from the command line, on the built binary: `rekey token create|list|revoke` (the
 * token shown once, only its hash kept), `rekey serve` refusing to listen beyond loopback without a
 * token, and `rekey serve --tls-cert --tls-key` with a certificate made here by openssl, checked by
 * two real HTTPS clients (Node's https with the certificate as its only CA, and curl --cacert).
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToken } from '../../src/api/auth/tokenRegistry.js';
import { json, rekey } from '../cli/support.js';

let dir: string;
let db: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'rekey-serve-auth-'));
  db = join(dir, 'rekey.db');
  const simulated = rekey(['simulate', 'examples/healthy-fleet.json', '--db', db]);
  expect(simulated.status, simulated.stderr).toBe(0);
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Starts `rekey serve`; resolves with its URL once printed. */
function serve(args: string[]): { url: Promise<string>; stop(): Promise<{ code: number | null; stderr: string }> } {
  const child = spawn(process.execPath, ['dist/src/cli/main.js', 'serve', '--db', db, '--port', '0', ...args], { env: { ...process.env, REKEY_DB: '', REKEY_EVENTSTORE: '', REKEY_AUTH_FILE: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; stderr: string }>((resolve) => child.on('exit', (code) => resolve({ code, stderr })));
  const url = new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      const match = /^(https?:\/\/\S+)\n/m.exec(stdout);
      if (match) resolve(match[1]!);
    });
    void exited.then(({ code }) => reject(new Error(`rekey serve exited (${code}) before printing its URL: ${stderr}`)));
  });
  return { url, stop: () => (child.kill('SIGTERM'), exited) };
}

describe('rekey token', () => {
  it('creates a token shown once, keeps only its hash (mode 0600), lists it without the token, revokes it', () => {
    const created = rekey(['token', 'create', '--role', 'reader', '--name', 'grafana', '--db', db, '--json']);
    expect(created.status, created.stderr).toBe(0);
    const info = json<{ id: string; name: string; role: string; token: string; revokedAt: null }>(created);
    expect(info).toMatchObject({ name: 'grafana', role: 'reader', revokedAt: null });
    expect(info.id).toMatch(/^tk_[0-9a-f]{12}$/);
    expect(info.token).toMatch(/^rekey_[A-Za-z0-9_-]{43}$/);
    const file = `${db}.auth.json`;
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain(info.token);
    expect(text).toContain(hashToken(info.token));
    expect(statSync(file).mode & 0o777).toBe(0o600);

    const plain = rekey(['token', 'create', '--role', 'admin', '--db', db]);
    expect(plain.status).toBe(0);
    expect(plain.stdout).toMatch(/^rekey_[A-Za-z0-9_-]{43}\n$/);
    expect(plain.stderr).toContain('it is shown only now');

    const listed = rekey(['token', 'list', '--db', db, '--json']);
    expect(listed.stdout).not.toContain(info.token);
    expect(listed.stdout).not.toContain(plain.stdout.trim());
    expect(json<{ name: string; role: string }[]>(listed).map((t) => [t.name, t.role])).toEqual([['grafana', 'reader'], ['admin', 'admin']]);

    const revoked = rekey(['token', 'revoke', info.id, '--db', db, '--json']);
    expect(revoked.status).toBe(0);
    expect(json<{ revokedAt: string }>(revoked).revokedAt).toMatch(/^\d{4}-/);
    const table = rekey(['token', 'list', '--db', db]);
    expect(table.stdout).toMatch(new RegExp(`${info.id}\\s+grafana\\s+reader\\s+\\S+\\s+\\d{4}-`));
  });

  it('names what was wrong: an unknown role, an unknown id, a bad name, an EventStoreDB store without --auth-file', () => {
    const role = rekey(['token', 'create', '--role', 'root', '--db', db]);
    expect(role.status).toBe(2);
    expect(role.stderr).toMatch(/^rekey: ARGUMENT_INVALID: --role "root" is not a role; the roles are: admin .*reader/);
    const missing = rekey(['token', 'revoke', 'tk_000000000000', '--db', db]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/^rekey: TOKEN_NOT_FOUND: no token has the id "tk_000000000000" in .*; the ids are: tk_/);
    const name = rekey(['token', 'create', '--role', 'admin', '--name', 'bad\nname', '--db', db]);
    expect(name.status).toBe(2);
    expect(name.stderr).toContain('is not a token name');
    const esdb = rekey(['token', 'list', '--eventstore', 'esdb://127.0.0.1:1?tls=false']);
    expect(esdb.status).toBe(2);
    expect(esdb.stderr).toContain('pass --auth-file FILE');
  });
});

describe('rekey serve beyond loopback and over TLS', () => {
  it('refuses --host 0.0.0.0 while the auth file holds no active token (exit 2, the file named)', () => {
    const empty = join(dir, 'empty.auth.json');
    const result = spawnSync(process.execPath, ['dist/src/cli/main.js', 'serve', '--db', db, '--port', '0', '--host', '0.0.0.0', '--auth-file', empty], { encoding: 'utf8', timeout: 60_000 });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(`rekey: AUTH_NOT_CONFIGURED: --host 0.0.0.0 would expose the API beyond this machine, but the auth file ${empty} holds no active token`);
    expect(result.stdout).toBe('');
  });

  it('serves HTTPS with --tls-cert/--tls-key: real HTTPS clients trust it with the certificate as CA, tokens still apply', async () => {
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
    const admin = json<{ token: string }>(rekey(['token', 'create', '--role', 'admin', '--name', 'tls-admin', '--db', db, '--json'])).token;
    const server = serve(['--tls-cert', cert, '--tls-key', key]);
    try {
      const url = await server.url;
      expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/$/);
      const get = (path: string, headers: Record<string, string> = {}) => new Promise<{ status: number; body: string; protocol: string }>((resolve, reject) => {
        const req = httpsRequest(new URL(path, url), { ca: readFileSync(cert), headers }, (res) => {
          let body = '';
          const protocol = (res.socket as { getProtocol?: () => string }).getProtocol?.() ?? '';
          res.on('data', (chunk) => (body += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body, protocol }));
        });
        req.on('error', reject);
        req.end();
      });
      const health = await get('/health');
      expect(health.status).toBe(200);
      expect(health.protocol).toMatch(/^TLSv1\.[23]$/);
      expect((await get('/api/tables')).status).toBe(401);
      const tables = await get('/api/tables', { authorization: `Bearer ${admin}` });
      expect(tables.status).toBe(200);
      expect(JSON.parse(tables.body).tables.flowmachinegroups.map((g: { name: string }) => g.name)).toContain('Finance');

      const curl = spawnSync('curl', ['-sS', '--cacert', cert, '-H', `Authorization: Bearer ${admin}`, `${url}api/data/v9.2/flowmachinegroups?$select=name`], { encoding: 'utf8', timeout: 30_000 });
      expect(curl.status, curl.stderr).toBe(0);
      expect(JSON.parse(curl.stdout).value.map((g: { name: string }) => g.name)).toContain('HR');
      // Without the certificate as CA, a client refuses the self-signed server.
      const untrusted = spawnSync('curl', ['-sS', `${url}health`], { encoding: 'utf8', timeout: 30_000 });
      expect(untrusted.status).not.toBe(0);
      // Plain HTTP to the TLS port gets no API answer.
      const plain = await fetch(url.replace('https:', 'http:') + 'health').then((r) => r.status, () => 0);
      expect(plain).not.toBe(200);
    } finally {
      const { code } = await server.stop();
      expect(code).toBe(0);
    }
  });

  it('needs both --tls-cert and --tls-key, and readable files', () => {
    const half = rekey(['serve', '--db', db, '--port', '0', '--tls-cert', join(dir, 'cert.pem')]);
    expect(half.status).toBe(2);
    expect(half.stderr).toContain('--tls-cert and --tls-key go together');
    const missing = rekey(['serve', '--db', db, '--port', '0', '--tls-cert', join(dir, 'nope.pem'), '--tls-key', join(dir, 'nope.pem')]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/--tls-cert .*nope\.pem cannot be read \(ENOENT\)/);
  });
});
