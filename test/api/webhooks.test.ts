/**
 * Webhook subscriptions against a real HTTP receiver on loopback: a subscription POSTs once per
 * matching change, retries when the receiver fails (500 the first time), never fires for a change
 * its filters reject, and logs every attempt. Signatures are checked with the `standardwebhooks`
 * npm package (an implementation of the Standard Webhooks specification nobody here wrote).
 */
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getJson, postJson, servedExample, type Fixture } from './support/fixtures.js';

interface Received {
  readonly delivery: string;
  readonly attempt: string;
  readonly body: any;
  readonly text: string;
  readonly headers: Record<string, string>;
  readonly answered: number;
}

/** A receiver that answers each request with the next status of `plan` (then 200), and records it. */
class Receiver {
  readonly received: Received[] = [];
  private readonly server: Server;
  private waiters: (() => void)[] = [];
  url = '';

  constructor(private readonly plan: number[] = []) {
    this.server = createHttpServer((req: IncomingMessage, res) => {
      let text = '';
      req.on('data', (chunk) => (text += chunk));
      req.on('end', () => {
        const answered = this.plan.shift() ?? 200;
        const headers = Object.fromEntries(Object.entries(req.headers).map(([name, value]) => [name, String(value)]));
        this.received.push({ delivery: String(req.headers['x-rekey-delivery']), attempt: String(req.headers['x-rekey-attempt']), body: JSON.parse(text), text, headers, answered });
        res.writeHead(answered, { 'content-type': 'text/plain' }).end(answered === 200 ? 'ok' : 'try again');
        for (const wake of this.waiters.splice(0)) wake();
      });
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    this.url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/hook`;
  }

  async until(test: () => boolean, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!test()) {
      if (Date.now() > deadline) throw new Error(`receiver: condition not met within ${timeoutMs} ms; got ${this.received.length} requests`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

let fx: Fixture;

beforeAll(async () => {
  fx = await servedExample('healthy-fleet', { webhooks: { baseDelayMs: 40, maxAttempts: 4, timeoutMs: 2000 } });
});
afterAll(async () => {
  await fx?.close();
});

describe('webhook subscriptions', () => {
  it('fire once per matching change, retry a failed POST with backoff, and skip changes the filters reject', async () => {
    const receiver = new Receiver([500]);
    await receiver.start();
    try {
      const created = await postJson(`${fx.url}/api/subscriptions`, {
        url: receiver.url,
        table: 'flowmachinegroups',
        changeType: ['Update'],
        columns: ['keyexpirygraceperiod'],
        filter: "name eq 'Finance'",
      });
      expect(created.status).toBe(201);
      expect(created.headers.get('location')).toBe(`/api/subscriptions/${created.body.id}`);
      const id = created.body.id as string;

      // Not matching: another group (filter), another column (columns), then the one that matches.
      await postJson(`${fx.url}/api/commands/setKeyExpiryGracePeriod`, { group: 'HR', minutes: 70_000 });
      await postJson(`${fx.url}/api/commands/setProactiveReencryption`, { group: 'Finance', enabled: true });
      const matching = await postJson(`${fx.url}/api/commands/setKeyExpiryGracePeriod`, { group: 'Finance', minutes: 100_000 });
      const position = matching.body.events[0].position;

      await receiver.until(() => receiver.received.some((r) => r.answered === 200));
      expect(receiver.received.map((r) => [r.attempt, r.answered])).toEqual([['1', 500], ['2', 200]]);
      expect(new Set(receiver.received.map((r) => r.delivery)).size).toBe(1);
      const payload = receiver.received[1]!.body;
      expect(payload).toMatchObject({ subscriptionId: id, deliveryId: receiver.received[0]!.delivery });
      expect(payload.change).toMatchObject({ table: 'flowmachinegroups', changeType: 'Update', name: 'Finance', position, event: 'KeyExpiryGracePeriodChanged' });
      expect(payload.change.row.keyexpirygraceperiod).toBe(100_000);

      // A second matching change is a second delivery, delivered at the first attempt.
      await postJson(`${fx.url}/api/commands/setKeyExpiryGracePeriod`, { group: 'Finance', minutes: 110_000 });
      await receiver.until(() => receiver.received.length === 3);
      expect(receiver.received[2]!.body.change.row.keyexpirygraceperiod).toBe(110_000);
      expect(receiver.received[2]!.delivery).not.toBe(receiver.received[0]!.delivery);

      const log = await getJson(`${fx.url}/api/subscriptions/${id}/deliveries`);
      expect(log.status).toBe(200);
      expect(log.body.value.map((d: { state: string; attempts: unknown[] }) => [d.state, d.attempts.length])).toEqual([['delivered', 2], ['delivered', 1]]);
      expect(log.body.value[0].attempts[0]).toMatchObject({ attempt: 1, status: 500, error: null });
      const listed = await getJson(`${fx.url}/api/subscriptions`);
      expect(listed.body.value.map((x: { id: string }) => x.id)).toContain(id);
      const info = await getJson(`${fx.url}/api/subscriptions/${id}`);
      expect(info.body).toMatchObject({ delivered: 2, failed: 0, pending: 0, table: 'flowmachinegroups', filter: "name eq 'Finance'" });

      // Nothing else arrived: the non-matching changes never fired.
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(receiver.received).toHaveLength(3);
      const metrics = await (await fetch(`${fx.url}/metrics`)).text();
      expect(metrics).toContain('rekey_webhook_attempts_total{outcome="failure"} 1');
      expect(metrics).toContain('rekey_webhook_deliveries_total{outcome="delivered"} 2');

      const removed = await fetch(`${fx.url}/api/subscriptions/${id}`, { method: 'DELETE' });
      expect(removed.status).toBe(204);
      expect((await getJson(`${fx.url}/api/subscriptions/${id}`)).status).toBe(404);
    } finally {
      await receiver.close();
    }
  });

  it('gives up after the last attempt and logs the delivery as failed; a 4xx is final at once', async () => {
    const receiver = new Receiver([503, 503, 503, 503, 410]);
    await receiver.start();
    try {
      const { body } = await postJson(`${fx.url}/api/subscriptions`, { url: receiver.url, table: 'flowmachinegroups', changeType: 'update', columns: 'rekey_proactivereencryption' });
      await postJson(`${fx.url}/api/commands/setProactiveReencryption`, { group: 'HR', enabled: true });
      await postJson(`${fx.url}/api/commands/setProactiveReencryption`, { group: 'HR', enabled: false });
      await receiver.until(() => receiver.received.length === 5);
      await new Promise((resolve) => setTimeout(resolve, 100));
      const log = (await getJson(`${fx.url}/api/subscriptions/${body.id}/deliveries`)).body.value;
      expect(log.map((d: { state: string; attempts: { status: number }[] }) => [d.state, d.attempts.map((a) => a.status)])).toEqual([
        ['failed', [503, 503, 503, 503]],
        ['failed', [410]],
      ]);
    } finally {
      await receiver.close();
    }
  });

  it('signs every attempt per Standard Webhooks: the standardwebhooks package verifies it and rejects a tampered body', async () => {
    const receiver = new Receiver([500]);
    await receiver.start();
    try {
      const created = await postJson(`${fx.url}/api/subscriptions`, { url: receiver.url, table: 'flowmachinegroups', changeType: 'update', columns: 'keyvalidityperiod' });
      expect(created.status).toBe(201);
      const secret = created.body.secret as string;
      expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
      // Shown once: neither the subscription, nor the listing, nor the delivery log, nor the log holds it.
      const shown = [
        await getJson(`${fx.url}/api/subscriptions/${created.body.id}`),
        await getJson(`${fx.url}/api/subscriptions`),
      ];
      await postJson(`${fx.url}/api/commands/setKeyValidityPeriod`, { group: 'HR', minutes: 1_000_000 });
      await receiver.until(() => receiver.received.length === 2);
      shown.push(await getJson(`${fx.url}/api/subscriptions/${created.body.id}/deliveries`));
      const key = secret.slice('whsec_'.length);
      for (const response of shown) {
        expect(JSON.stringify(response.body)).not.toContain(key);
        expect(JSON.stringify(response.body)).not.toContain('secret');
      }
      expect(JSON.stringify(await fx.store.readAll(1))).not.toContain(key);

      const verifier = new Webhook(secret);
      for (const attempt of receiver.received) {
        expect(attempt.headers['webhook-id']).toBe(attempt.delivery);
        expect(attempt.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
        expect(Math.abs(Number(attempt.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(60);
        expect(verifier.verify(attempt.text, attempt.headers)).toEqual(attempt.body);
      }
      // The retry is signed again (its own timestamp), under the same webhook-id.
      expect(receiver.received[0]!.headers['webhook-id']).toBe(receiver.received[1]!.headers['webhook-id']);
      const [first] = receiver.received;
      const tampered = first!.text.replace('1000000', '1000001');
      expect(tampered).not.toBe(first!.text);
      expect(() => verifier.verify(tampered, first!.headers)).toThrow(/No matching signature found/);
      expect(() => new Webhook(`whsec_${Buffer.alloc(32, 7).toString('base64')}`).verify(first!.text, first!.headers)).toThrow(/No matching signature found/);
      const stale = { ...first!.headers, 'webhook-timestamp': String(Math.floor(Date.now() / 1000) - 3600) };
      expect(() => verifier.verify(first!.text, stale)).toThrow(/too old/);
    } finally {
      await receiver.close();
    }
  });

  it('takes a secret given at creation (a restarted server keeps its receivers\' secret), and refuses a malformed one without echoing it', async () => {
    const receiver = new Receiver();
    await receiver.start();
    try {
      const given = `whsec_${Buffer.alloc(32, 42).toString('base64')}`;
      const created = await postJson(`${fx.url}/api/subscriptions`, { url: receiver.url, table: 'flowmachinegroups', changeType: 'update', columns: 'keyvalidityperiod', secret: given });
      expect(created.body.secret).toBe(given);
      await postJson(`${fx.url}/api/commands/setKeyValidityPeriod`, { group: 'HR', minutes: 1_100_000 });
      await receiver.until(() => receiver.received.length === 1);
      expect(new Webhook(given).verify(receiver.received[0]!.text, receiver.received[0]!.headers)).toEqual(receiver.received[0]!.body);
      for (const secret of ['whsec_c2hvcnQ=', 'not-a-secret-Pl41n', `whsec_${'!'.repeat(44)}`]) {
        const refused = await postJson(`${fx.url}/api/subscriptions`, { url: receiver.url, table: 'flowmachines', secret });
        expect(refused.status).toBe(400);
        expect(refused.body.error.message).toBe('body.secret must be whsec_ followed by the base64 of 24 to 64 random bytes (leave it out and the server makes one)');
      }
    } finally {
      await receiver.close();
    }
  });

  it('refuses bad subscriptions with 400 and unknown ids with 404', async () => {
    const cases: [unknown, string, RegExp][] = [
      [{ table: 'flowmachines' }, 'REQUEST_INVALID', /body\.url is required/],
      [{ url: 'ftp://127.0.0.1/x', table: 'flowmachines' }, 'REQUEST_INVALID', /http or https/],
      [{ url: 'not a url', table: 'flowmachines' }, 'REQUEST_INVALID', /absolute URL/],
      [{ url: 'http://127.0.0.1:9/x', table: 'machines' }, 'TABLE_UNKNOWN', /machines/],
      [{ url: 'http://127.0.0.1:9/x', table: 'flowmachines', filter: 'name eq' }, 'ODATA_SYNTAX', /position/],
      [{ url: 'http://127.0.0.1:9/x', table: 'flowmachines', columns: ['nosuch'] }, 'ODATA_UNKNOWN_COLUMN', /nosuch/],
      [{ url: 'http://127.0.0.1:9/x', table: 'flowmachines', changeType: 'upsert' }, 'CHANGE_TYPE_UNKNOWN', /upsert/],
    ];
    for (const [request, code, message] of cases) {
      const response = await postJson(`${fx.url}/api/subscriptions`, request);
      expect({ status: response.status, code: response.body.error.code }).toEqual({ status: 400, code });
      expect(response.body.error.message).toMatch(message);
    }
    const unknown = await getJson(`${fx.url}/api/subscriptions/nope/deliveries`);
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('SUBSCRIPTION_NOT_FOUND');
  });
});
