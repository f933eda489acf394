/**
 * Authentication of the admin and read API (src/api/auth) on a real server and a real store: open on
 * loopback while no token exists; once one does, 401 for a missing, malformed, wrong or revoked token,
 * 403 for a reader on an admin route, each role's routes, every command recording its actor (never
 * the token), names shown only to authenticated callers, tokens hashed at rest, and the exact Host
 * check against DNS rebinding.
 */
import { request as httpRequest } from 'node:http';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultAuthFile, createServer } from '../../src/api/index.js';
import { createToken, hashToken, revokeToken } from '../../src/api/auth/tokenRegistry.js';
import { requiredRole } from '../../src/api/auth/access.js';
import { hostCheck, hostnameOf } from '../../src/api/hostCheck.js';
import { getJson, postJson, servedExample, SseClient, type Fixture } from './support/fixtures.js';

let fx: Fixture;
let authFile: string;
const now = new Date('2026-05-01T00:00:00Z');

beforeAll(async () => {
  fx = await servedExample('healthy-fleet');
  authFile = defaultAuthFile(fx.file);
});
afterAll(async () => {
  await fx?.close();
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** A GET with a Host header of our choosing (fetch always sends the URL's). */
function getWithHost(url: string, host: string): Promise<number> {
  const { port, pathname } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: Number(port), path: pathname, headers: { host } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('a loopback server whose auth file holds no token', () => {
  it('answers everyone on this machine, as before, and records the actor "local" on commands', async () => {
    const groups = await getJson(`${fx.url}/api/data/v9.2/flowmachinegroups?$select=name`);
    expect(groups.status).toBe(200);
    const created = await postJson(`${fx.url}/api/commands/createGroup`, { name: 'Open-Era' });
    expect(created.status).toBe(200);
    const [event] = await fx.store.readAll(created.body.events[0].position, 1);
    expect(event!.metadata.actor).toBe('local');
  });
});

describe('once tokens exist', () => {
  let admin: { token: string; id: string };
  let reader: { token: string; id: string };
  let revoked: { token: string; id: string };

  beforeAll(() => {
    const make = (role: string, name: string) => {
      const created = createToken(authFile, { role, name, now });
      return { token: created.token, id: created.info.id };
    };
    admin = make('admin', 'ops-admin');
    reader = make('reader', 'prometheus');
    revoked = make('reader', 'old-laptop');
    revokeToken(authFile, revoked.id, now);
  });

  it('keeps only hashes at rest, never a token', () => {
    const text = readFileSync(authFile, 'utf8');
    for (const { token } of [admin, reader, revoked]) {
      expect(text).not.toContain(token);
      expect(text).toContain(hashToken(token));
    }
  });

  it('a missing token is 401 AUTH_REQUIRED with WWW-Authenticate, and lists no group name', async () => {
    for (const path of ['/api/data/v9.2/flowmachinegroups', '/api/tables', '/api/history/flowmachinegroups/Finance', '/api/timeline/Finance', '/api/reminders', '/api/changes', '/metrics']) {
      const response = await fetch(`${fx.url}${path}`);
      expect(response.status, path).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe('Bearer realm="rekey"');
      const text = await response.text();
      expect(Object.keys(JSON.parse(text).error)).toEqual(['code', 'message']);
      expect(JSON.parse(text).error.code).toBe('AUTH_REQUIRED');
      expect(text).not.toContain('HR');
      expect(text).not.toContain('FIN-01');
    }
    const command = await postJson(`${fx.url}/api/commands/createGroup`, { name: 'Anonymous' });
    expect(command.status).toBe(401);
    expect(command.body.error.message).toContain('needs a token of role admin');
  });

  it('another scheme is 401 AUTH_REQUIRED; a wrong or made-up token 401 AUTH_INVALID; a revoked one 401 AUTH_REVOKED; none is echoed', async () => {
    const url = `${fx.url}/api/data/v9.2/flowmachines`;
    const basic = await getJson(url, { authorization: `Basic ${Buffer.from(`x:${admin.token}`).toString('base64')}` });
    expect(basic.status).toBe(401);
    expect(basic.body.error.code).toBe('AUTH_REQUIRED');
    const wrongToken = `rekey_${'A'.repeat(43)}`;
    for (const token of [wrongToken, 'hunter2', `${admin.token}x`]) {
      const response = await getJson(url, bearer(token));
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe('Bearer realm="rekey", error="invalid_token"');
      expect(response.body.error.code).toBe('AUTH_INVALID');
      expect(JSON.stringify(response.body)).not.toContain(token);
    }
    const gone = await getJson(url, bearer(revoked.token));
    expect(gone.status).toBe(401);
    expect(gone.body.error).toEqual({ code: 'AUTH_REVOKED', message: `token ${revoked.id} (old-laptop) was revoked at ${now.toISOString()}; ask an admin for a new one ('rekey token create --role reader')` });
    expect(JSON.stringify(gone.body)).not.toContain(revoked.token);
  });

  it('a reader reads the tables, history, timeline, reminders, the change feed and the metrics', async () => {
    for (const path of ['/api/data/v9.2/flowmachinegroups?$select=name', '/api/tables', '/api/history/flowmachinegroups/Finance', '/api/timeline/Finance', '/api/reminders']) {
      const response = await getJson(`${fx.url}${path}`, bearer(reader.token));
      expect(response.status, path).toBe(200);
    }
    const metrics = await fetch(`${fx.url}/metrics`, { headers: bearer(reader.token) });
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('rekey_group_info{group="Finance"');
    const feed = await SseClient.open(`${fx.url}/api/changes`, bearer(reader.token));
    try {
      expect(feed.status).toBe(200);
      await feed.waitFor((e) => e.event === 'ready');
    } finally {
      feed.close();
    }
  });

  it('a reader may not command or touch webhooks: 403 AUTH_FORBIDDEN naming the role needed', async () => {
    const command = await postJson(`${fx.url}/api/commands/createGroup`, { name: 'Readers-Club' }, bearer(reader.token));
    expect(command.status).toBe(403);
    expect(command.body.error).toEqual({ code: 'AUTH_FORBIDDEN', message: `token ${reader.id} (prometheus) has role reader; POST /api/commands/createGroup needs role admin` });
    const list = await getJson(`${fx.url}/api/subscriptions`, bearer(reader.token));
    expect(list.status).toBe(403);
    const subscribe = await postJson(`${fx.url}/api/subscriptions`, { url: 'http://127.0.0.1:9/hook', table: 'flowmachines' }, bearer(reader.token));
    expect(subscribe.status).toBe(403);
    const groups = await getJson(`${fx.url}/api/data/v9.2/flowmachinegroups?$filter=name eq 'Readers-Club'`, bearer(reader.token));
    expect(groups.body.value).toEqual([]);
  });

  it('an admin commands and manages webhooks; each command records the token id as its actor, never the token', async () => {
    const created = await postJson(`${fx.url}/api/commands/createGroup`, { name: 'Admins-Only' }, bearer(admin.token));
    expect(created.status).toBe(200);
    const grace = await postJson(`${fx.url}/api/commands/setKeyExpiryGracePeriod`, { group: 'Admins-Only', minutes: 64_800 }, bearer(admin.token));
    expect(grace.status).toBe(200);
    const due = await postJson(`${fx.url}/api/commands/processDue`, {}, bearer(admin.token));
    expect(due.status).toBe(200);
    const positions = [...created.body.events, ...grace.body.events].map((e: { position: number }) => e.position);
    const events = await fx.store.readAll(1);
    for (const position of positions) expect(events.find((e) => e.position === position)!.metadata.actor).toBe(`token:${admin.id}`);
    const log = JSON.stringify(events);
    for (const { token } of [admin, reader, revoked]) {
      expect(log).not.toContain(token);
      expect(log).not.toContain(hashToken(token));
    }
    const subscriptions = await getJson(`${fx.url}/api/subscriptions`, bearer(admin.token));
    expect(subscriptions.status).toBe(200);
    const reads = await getJson(`${fx.url}/api/data/v9.2/flowmachinegroups(name='Admins-Only')`, bearer(admin.token));
    expect(reads.status).toBe(200);
  });

  it('/health, the dashboard page and the machine API stay public (machines sign their own requests)', async () => {
    expect((await fetch(`${fx.url}/health`)).status).toBe(200);
    expect((await fetch(`${fx.url}/`)).status).toBe(200);
    expect(requiredRole('GET', '/api/machine/time')).toBeNull();
    expect(requiredRole('POST', '/api/machine/groups/Finance/join-start')).toBeNull();
    expect(requiredRole('GET', '/api/subscriptions')).toBe('admin');
    expect(requiredRole('DELETE', '/api/anything')).toBe('admin');
    expect(requiredRole('GET', '/api/anything?x=/health')).toBe('reader');
  });

  it('a token revoked while the server runs is refused from the next request on; a new one works at once', async () => {
    const fresh = createToken(authFile, { role: 'reader', name: 'short-lived', now });
    expect((await getJson(`${fx.url}/api/tables`, bearer(fresh.token))).status).toBe(200);
    revokeToken(authFile, fresh.info.id, now);
    const after = await getJson(`${fx.url}/api/tables`, bearer(fresh.token));
    expect(after.status).toBe(401);
    expect(after.body.error.code).toBe('AUTH_REVOKED');
  });

  it('an auth file that is not one closes the API with a clear error instead of opening it', async () => {
    const saved = readFileSync(authFile, 'utf8');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(authFile, '{"version": 1, "tokens": [{"id": 3}]}');
    try {
      const response = await getJson(`${fx.url}/api/tables`, bearer(admin.token));
      expect(response.status).toBe(500);
      expect(response.body.error.code).toBe('AUTH_FILE_INVALID');
      expect(response.body.error.message).toContain(authFile);
    } finally {
      writeFileSync(authFile, saved);
    }
    expect((await getJson(`${fx.url}/api/tables`, bearer(admin.token))).status).toBe(200);
  });
});

describe('listening beyond loopback', () => {
  it('is refused while the auth file holds no active token, and allowed with one', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'rekey-auth-'));
    const file = join(dir, 'auth.json');
    try {
      await expect(createServer({ store: fx.store, host: '0.0.0.0', port: 0, schedulerIntervalMs: 0, authFile: file })).rejects.toMatchObject({
        code: 'AUTH_NOT_CONFIGURED',
        message: expect.stringContaining(`--host 0.0.0.0 would expose the API beyond this machine, but the auth file ${file} holds no active token`),
      });
      const only = createToken(file, { role: 'admin', now });
      revokeToken(file, only.info.id, now);
      await expect(createServer({ store: fx.store, host: '0.0.0.0', port: 0, schedulerIntervalMs: 0, authFile: file })).rejects.toMatchObject({ code: 'AUTH_NOT_CONFIGURED' });
      const admin = createToken(file, { role: 'admin', now });
      const server = await createServer({ store: fx.store, host: '0.0.0.0', port: 0, schedulerIntervalMs: 0, authFile: file });
      try {
        expect((await fetch(`${server.url}/api/tables`)).status).toBe(401);
        expect((await fetch(`${server.url}/api/tables`, { headers: bearer(admin.token) })).status).toBe(200);
      } finally {
        await server.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the Host check on loopback (DNS rebinding)', () => {
  it('accepts exactly localhost, 127.0.0.1 and [::1] (any port), and refuses look-alikes', async () => {
    for (const host of ['localhost', 'localhost:8080', '127.0.0.1', `127.0.0.1:${new URL(fx.url).port}`, '[::1]', '[::1]:80', 'LOCALHOST']) {
      expect(await getWithHost(`${fx.url}/health`, host), host).toBe(200);
    }
    for (const host of ['127.attacker.example', '127.0.0.1.attacker.example', 'localhost.', 'a.localhost', '127.0.0.2', 'evil.example', '::1', 'localhost:80:80', 'localhost@evil.example']) {
      expect(await getWithHost(`${fx.url}/health`, host), JSON.stringify(host)).toBe(400);
    }
  });

  it('accepts configured names too, and applies beyond loopback only when names are configured', async () => {
    const server = await createServer({ store: fx.store, host: '127.0.0.1', port: 0, schedulerIntervalMs: 0, allowedHosts: ['Rekey.Internal'] });
    try {
      expect(await getWithHost(`${server.url}/health`, 'rekey.internal:443')).toBe(200);
      expect(await getWithHost(`${server.url}/health`, 'rekey.internal.attacker.example')).toBe(400);
    } finally {
      await server.close();
    }
    expect(hostCheck('0.0.0.0')).toBeNull();
    expect(hostCheck('0.0.0.0', ['rekey.example.com'])!.names).toEqual(['rekey.example.com']);
    expect(hostCheck('127.0.0.5')!.accepts('127.0.0.5:8080')).toBe(true);
    expect(hostCheck('::1')!.accepts('[::1]:8080')).toBe(true);
    expect(hostnameOf('[::1]:8080')).toBe('[::1]');
    expect(hostnameOf('bad host')).toBe('');
  });
});
