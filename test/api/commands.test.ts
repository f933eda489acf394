/**
 * Commands over HTTP on a simulated fleet (examples/healthy-fleet.json): every command endpoint, the
 * JSON-schema 400s that name the field, RekeyErrors mapped to their status, idempotent retries, the
 * portal's rule that plaintext credentials are encrypted at once and never stored, and the change
 * feed over server-sent events delivering the change a command made.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getJson, postJson, servedExample, SseClient, type Fixture } from './support/fixtures.js';

let fx: Fixture;
let commands: string;
let api: string;
const secrets = { username: 'CONTOSO\\svc-api', password: 'Pl41ntext-n3ver-stored' };

beforeAll(async () => {
  fx = await servedExample('healthy-fleet');
  commands = `${fx.url}/api/commands`;
  api = `${fx.url}/api/data/v9.2`;
});
afterAll(async () => {
  await fx?.close();
});

const row = async (table: string, name: string) => (await getJson(`${api}/${table}(name='${name}')`)).body;

describe('command endpoints', () => {
  it('createGroup records GroupCreated and answers once the table shows the group', async () => {
    const { status, body } = await postJson(`${commands}/createGroup`, { name: 'Ops', keyValidityPeriod: 525_600, keyExpiryGracePeriod: 129_600 });
    expect(status).toBe(200);
    expect(body.command).toBe('createGroup');
    expect(body.events.map((e: { type: string }) => e.type)).toEqual(['GroupCreated']);
    expect(body.events[0].occurredAt).toBe('2041-01-01T00:00:00.000Z'); // the clock never runs behind the log
    const ops = await row('flowmachinegroups', 'Ops');
    expect(ops).toMatchObject({ name: 'Ops', keyvalidityperiod: 525_600, keyexpirygraceperiod: 129_600, primarypublickey: null });
  });

  it('a refused command maps its RekeyError to the status of its kind', async () => {
    const exists = await postJson(`${commands}/createGroup`, { name: 'Ops' });
    expect(exists.status).toBe(409);
    expect(exists.body).toEqual({ error: { code: 'GROUP_EXISTS', message: 'machine group Ops already exists' } });
    const missing = await postJson(`${commands}/deleteGroup`, { group: 'Nobody' });
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('GROUP_NOT_FOUND');
    const range = await postJson(`${commands}/setKeyExpiryGracePeriod`, { group: 'Finance', minutes: 64_799 });
    expect(range.status).toBe(400);
    expect(range.body.error).toEqual({ code: 'GRACE_OUT_OF_RANGE', message: 'keyExpiryGracePeriod 64799 is below the minimum of 64800 minutes (45 days)' });
  });

  it('setKeyExpiryGracePeriod, setKeyValidityPeriod and setProactiveReencryption change the row at once (R4)', async () => {
    const grace = await postJson(`${commands}/setKeyExpiryGracePeriod`, { group: 'Finance', minutes: 64_800 });
    expect(grace.status).toBe(200);
    expect(grace.body.events.map((e: { type: string }) => e.type)).toEqual(['KeyExpiryGracePeriodChanged']);
    const validity = await postJson(`${commands}/setKeyValidityPeriod`, { group: 'Finance', minutes: 2_000_000 });
    expect(validity.body.events.map((e: { type: string }) => e.type)).toEqual(['KeyValidityPeriodChanged']);
    const proactive = await postJson(`${commands}/setProactiveReencryption`, { group: 'Finance', enabled: true });
    expect(proactive.status).toBe(200);
    expect(await row('flowmachinegroups', 'Finance')).toMatchObject({ keyexpirygraceperiod: 64_800, keyvalidityperiod: 2_000_000, rekey_proactivereencryption: true });
  });

  it('createConnection encrypts the credentials to the live keys at once; the plaintext is nowhere in the log', async () => {
    const { status, body } = await postJson(`${commands}/createConnection`, { name: 'Api-Conn', group: 'Finance', ...secrets });
    expect(status).toBe(200);
    expect(body.events.map((e: { type: string }) => e.type)).toEqual(['ConnectionCreated']);
    expect(JSON.stringify(body)).not.toContain(secrets.password);
    const connection = await row('desktopflowconnections', 'Api-Conn');
    expect(connection).toMatchObject({ targettype: 'group', targetname: 'Finance', status: 'Connected' });
    expect(connection.keythumbprints).toBe((await row('flowmachinegroups', 'Finance')).primarypublickey);

    const fixed = await postJson(`${commands}/fixConnection`, { connection: 'Api-Conn', username: secrets.username, password: 'An0ther-plaintext' });
    expect(fixed.status).toBe(200);
    expect(fixed.body.events.map((e: { type: string }) => e.type)).toEqual(['ConnectionFixed']);

    const log = JSON.stringify(await fx.store.readAll(1, 1_000_000));
    expect(log).not.toContain(secrets.password);
    expect(log).not.toContain('An0ther-plaintext');
    const both = await postJson(`${commands}/createConnection`, { name: 'Both', group: 'Finance', machine: 'FIN-01', ...secrets });
    expect(both.status).toBe(400);
    expect(both.body.error.message).toContain('exactly one of group and machine');
    const unknown = await postJson(`${commands}/fixConnection`, { connection: 'Nope', ...secrets });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('CONNECTION_UNKNOWN');
  });

  it('deleteGroup and processDue', async () => {
    const deleted = await postJson(`${commands}/deleteGroup`, { group: 'Ops' });
    expect(deleted.status).toBe(200);
    expect(deleted.body.events.map((e: { type: string }) => e.type)).toContain('GroupDeleted');
    expect((await getJson(`${api}/flowmachinegroups(name='Ops')`)).status).toBe(404);
    const due = await postJson(`${commands}/processDue`, {});
    expect(due.status).toBe(200);
    expect(due.body.events).toEqual(expect.any(Array));
    const noBody = await fetch(`${commands}/processDue`, { method: 'POST' });
    expect(noBody.status).toBe(200);
  });

  it('a command retried with the same commandId records nothing the second time', async () => {
    const first = await postJson(`${commands}/setKeyExpiryGracePeriod`, { group: 'HR', minutes: 100_000, commandId: 'retry-me-1' });
    expect(first.body.events).toHaveLength(1);
    const again = await postJson(`${commands}/setKeyExpiryGracePeriod`, { group: 'HR', minutes: 100_000, commandId: 'retry-me-1' });
    expect(again.status).toBe(200);
    expect(again.body.events).toEqual([]);
  });

  it('a bad body is 400 REQUEST_INVALID naming the field and the reason, never echoing a value', async () => {
    const cases: [string, unknown, string][] = [
      ['createGroup', {}, 'body.name is required'],
      ['createGroup', { name: 'X', colour: 'blue' }, 'body.colour is not a known field'],
      ['createGroup', { name: 42 }, 'body.name must be string'],
      ['createGroup', { name: '' }, 'body.name must not be empty'],
      ['setKeyValidityPeriod', { group: 'Finance', minutes: '525600' }, 'body.minutes must be integer'],
      ['setKeyValidityPeriod', { group: 'Finance', minutes: 1.5 }, 'body.minutes must be integer'],
      ['setProactiveReencryption', { group: 'Finance', enabled: 'yes' }, 'body.enabled must be boolean'],
      ['createConnection', { name: 'C', group: 'Finance', username: 'u' }, 'body.password is required'],
      ['fixConnection', { connection: 'Invoices', username: 'u', password: 'Secr3t-value', extra: 1 }, 'body.extra is not a known field'],
      ['createGroup', [], 'body must be object'],
    ];
    for (const [command, body, message] of cases) {
      const response = await postJson(`${commands}/${command}`, body);
      expect({ command, status: response.status, error: response.body.error }).toEqual({ command, status: 400, error: { code: 'REQUEST_INVALID', message } });
      expect(JSON.stringify(response.body)).not.toContain('Secr3t-value');
    }
    const malformed = await postJson(`${commands}/createGroup`, '{"name": ');
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.code).toBe('REQUEST_INVALID');
    const unknown = await postJson(`${commands}/launchRockets`, {});
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.message).toContain('createGroup');
  });

  it('a page link keeps reading the tables at the position of the first page while the log grows', async () => {
    const first = await getJson(`${api}/flowmachinegroups?$select=name&$orderby=name`, { prefer: 'odata.maxpagesize=1' });
    expect(first.body.value.map((r: { name: string }) => r.name)).toEqual(['Finance']);
    await postJson(`${commands}/createGroup`, { name: 'Aardvark' }); // sorts first
    const second = await getJson(first.body['@odata.nextLink'], { prefer: 'odata.maxpagesize=1' });
    expect(second.body.value.map((r: { name: string }) => r.name)).toEqual(['HR']);
    expect(second.body['@odata.nextLink']).toBeUndefined();
  });
});

describe('GET /api/changes (server-sent events)', () => {
  it('delivers the change a command makes, with the trigger\'s filters applied', async () => {
    const all = await SseClient.open(`${fx.url}/api/changes`);
    const graceOnly = await SseClient.open(`${fx.url}/api/changes?table=flowmachinegroups&changeType=update&columns=keyexpirygraceperiod&filter=${encodeURIComponent("name eq 'HR'")}`);
    try {
      expect(all.status).toBe(200);
      const ready = await graceOnly.waitFor((e) => e.event === 'ready');
      await all.waitFor((e) => e.event === 'ready');
      await postJson(`${commands}/setProactiveReencryption`, { group: 'HR', enabled: true });
      const { body } = await postJson(`${commands}/setKeyExpiryGracePeriod`, { group: 'HR', minutes: 90_000 });
      const position = body.events[0].position;
      expect(position).toBeGreaterThanOrEqual(ready.data.fromPosition);

      const change = await graceOnly.waitFor((e) => e.event === 'change');
      expect(change.id).toBe(`${position}-0`); // the first (and only) row change of that event
      expect(change.data).toMatchObject({ table: 'flowmachinegroups', changeType: 'Update', name: 'HR', position, event: 'KeyExpiryGracePeriodChanged' });
      expect(change.data.changedColumns).toContain('keyexpirygraceperiod');
      expect(change.data.row.keyexpirygraceperiod).toBe(90_000);
      await all.waitFor((e) => e.event === 'change' && e.data.event === 'ProactiveReencryptionChanged');
      await all.waitFor((e) => e.event === 'change' && e.data.position === position);
      // The proactive re-encryption change matched neither the columns nor, before it, anything else.
      expect(graceOnly.events.filter((e) => e.event === 'change')).toHaveLength(1);
    } finally {
      all.close();
      graceOnly.close();
    }
  });

  it('fromPosition replays the changes already in the log', async () => {
    const feed = await SseClient.open(`${fx.url}/api/changes?table=flowmachinegroups&changeType=create&fromPosition=1`);
    try {
      await feed.waitFor((e) => e.event === 'change' && e.data.name === 'HR');
      const names = feed.events.filter((e) => e.event === 'change').map((e) => e.data.name);
      expect(names.slice(0, 2)).toEqual(['Finance', 'HR']);
    } finally {
      feed.close();
    }
  });

  it('a bad filter is refused with 400 before the stream starts', async () => {
    const cases: [string, string, RegExp][] = [
      [`filter=${encodeURIComponent('name eq')}`, 'ODATA_SYNTAX', /position 8/],
      ['table=flowmachines&columns=nosuch', 'ODATA_UNKNOWN_COLUMN', /nosuch/],
      ['changeType=upsert', 'CHANGE_TYPE_UNKNOWN', /upsert/],
      ['table=machines', 'TABLE_UNKNOWN', /machines/],
      ['fromPosition=zero', 'REQUEST_INVALID', /fromPosition/],
    ];
    for (const [query, code, message] of cases) {
      const { status, body } = await getJson(`${fx.url}/api/changes?${query}`);
      expect({ query, status, code: body.error.code }).toEqual({ query, status: 400, code });
      expect(body.error.message).toMatch(message);
    }
  });
});
