/**
 * A flood of self-signed join-starts cannot take the machine API down (issue 18). Before, every
 * verified request's nonce went into one 200,000-entry cache: a 138 s burst of self-signed requests
 * (anyone can make a key) filled it, and every machine was answered 503 for the 10 minutes the
 * entries lived. Now clients without a registered key share a budget per source address and one
 * for all of them, taken before their signature is checked (429 with Retry-After), and registered
 * machines draw on budgets of their own.
 *
 * Real `rekey serve` process, real HTTP; the flood comes from 40 loopback addresses (127.0.0.2 to
 * 127.0.0.41), each request signed by a fresh stranger's key with a fresh nonce, while three
 * registered machines keep checking in.
 */
import { request as httpRequest, Agent } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RemoteAgent } from '../../src/remote/agentProcess.js';
import { signedHeaders, type Signer } from '../../src/remote/client.js';
import { paths } from '../../src/remote/protocol.js';
import { generateSigningKey, signingKeyFrom } from '../../src/remote/signing.js';
import { seedGroups, sendRaw, startServe, type ServeChild } from './support/serve.js';

const FLOOD = Number(process.env.REKEY_FLOOD_REQUESTS ?? 1500);
/**
 * Budgets small enough that a flood outruns them on any machine (the test's own throughput on a
 * busy 2-core runner can be a few hundred requests per second): 5 per second for all unknown
 * clients together and 1 per second per address, bursts of 4 times that (the defaults are 50 and 5).
 */
const OVERALL = { perSecond: 5, burst: 20 };
const PER_ADDRESS = { perSecond: 1, burst: 4 };
const ADDRESSES = 40;
const CONCURRENCY = 64;
const PASSWORD = 'Finance Passw0rd';
const MACHINES = ['FIN-01', 'FIN-02', 'FIN-03'];

interface Answer {
  readonly status: number;
  readonly retryAfter: string | undefined;
  readonly code: string | undefined;
  readonly message: string | undefined;
}

/** One POST from a given local address (node:http, so the source address can be chosen). */
function postFrom(agent: Agent, base: URL, path: string, body: Buffer, headers: Record<string, string>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = httpRequest({ agent, host: base.hostname, port: base.port, path, method: 'POST', headers: { ...headers, 'content-type': 'application/json', 'content-length': body.length } }, (response) => {
      let text = '';
      response.setEncoding('utf8').on('data', (chunk: string) => (text += chunk)).on('end', () => {
        const error = text ? (JSON.parse(text) as { error?: { code: string; message: string } }).error : undefined;
        resolve({ status: response.statusCode!, retryAfter: response.headers['retry-after'] as string | undefined, code: error?.code, message: error?.message });
      });
    });
    request.on('error', reject);
    request.end(body);
  });
}

describe('a flood of self-signed join-starts from 40 addresses', () => {
  let dir: string;
  let db: string;
  let serve: ServeChild;
  const signers: Signer[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rekey-flood-'));
    db = join(dir, 'rekey.db');
    await seedGroups(db, [{ name: 'Finance', password: PASSWORD }]);
    serve = await startServe(db, ['--unregistered-rate', String(OVERALL.perSecond), '--unregistered-rate-per-address', String(PER_ADDRESS.perSecond)]);
    for (const name of MACHINES) {
      const agent = new RemoteAgent({
        server: serve.url, name, group: 'Finance', keystoreFile: join(dir, `${name}.keystore`),
        machinePassphrase: async () => `${name} passphrase`, groupPassword: async () => PASSWORD,
      });
      await agent.open();
      await agent.join();
      signers.push({ machine: name, key: signingKeyFrom(agent.store.contents.signingKey) });
    }
  }, 60_000);

  afterAll(async () => {
    expect(await serve?.stop()).toBe(0);
    rmSync(dir, { recursive: true, force: true });
  });

  it('is answered 429 with Retry-After beyond the unknown clients\' budgets, while every registered machine\'s check-in is answered throughout', async () => {
    const base = new URL(serve.url);
    const strangers = Array.from({ length: ADDRESSES }, (_, index) => ({
      agent: new Agent({ keepAlive: true, localAddress: `127.0.0.${index + 2}` }),
      signer: { machine: `STRANGER-${index}`, key: generateSigningKey() } as Signer,
    }));
    // The machines' joins in beforeAll were requests without a registered key too: wait until the
    // shared budget they drew on is full again, so that the whole burst is the flood's.
    await new Promise((resolve) => setTimeout(resolve, (OVERALL.burst / OVERALL.perSecond) * 1000));
    const flood: Answer[] = [];
    let next = 0;
    let flooding = true;
    const started = Date.now();
    const floodWorkers = Array.from({ length: CONCURRENCY }, async () => {
      while (next < FLOOD) {
        const { agent, signer } = strangers[next++ % ADDRESSES]!;
        const path = paths.joinStart('Finance');
        const body = Buffer.from(JSON.stringify({ machine: signer.machine, signingKey: signer.key.publicKeyPem }));
        flood.push(await postFrom(agent, base, path, body, signedHeaders('POST', path, body, signer.machine, signer.key.privateKey, signer.key.thumbprint)));
      }
    });
    // The registered machines check in, each request signed anew, as long as the flood lasts.
    const served = new Map<string, { status: number; at: number }[]>(MACHINES.map((m) => [m, []]));
    const machineLoops = signers.map(async (signer) => {
      while (flooding) {
        const path = paths.checkIn('Finance', signer.machine);
        const body = Buffer.from(JSON.stringify({ agentVersion: '2.23.116.23040', intervalMinutes: 1440, heldKeys: [] }));
        const answer = await sendRaw(serve.url, 'POST', path, body, signedHeaders('POST', path, body, signer.machine, signer.key.privateKey));
        served.get(signer.machine)!.push({ status: answer.status, at: Date.now() });
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    });
    await Promise.all(floodWorkers);
    const ended = Date.now();
    flooding = false;
    await Promise.all(machineLoops);
    for (const { agent } of strangers) agent.destroy();

    // Every registered check-in was answered 200, and each machine was answered while the flood ran.
    for (const [machine, answers] of served) {
      expect(answers.filter((a) => a.status !== 200), `${machine}: ${JSON.stringify(answers.filter((a) => a.status !== 200))}`).toEqual([]);
      expect(answers.filter((a) => a.at <= ended).length, machine).toBeGreaterThanOrEqual(3);
    }

    // The flood: 200 within the budgets, 429 RATE_LIMITED with a Retry-After beyond them, nothing else.
    expect(flood).toHaveLength(FLOOD);
    const accepted = flood.filter((a) => a.status === 200).length;
    const limited = flood.filter((a) => a.status === 429);
    expect(flood.filter((a) => a.status !== 200 && a.status !== 429)).toEqual([]);
    expect(limited.length).toBe(FLOOD - accepted);
    expect(limited.length).toBeGreaterThan(FLOOD / 2);
    for (const answer of limited) {
      expect(answer.code).toBe('RATE_LIMITED');
      expect(Number(answer.retryAfter)).toBeGreaterThanOrEqual(1);
      expect(answer.message).toMatch(/retry after \d+ s$/);
    }
    // Both budgets bit: one address's, and all unknown clients' together.
    expect(limited.some((a) => a.message!.includes('per second per address'))).toBe(true);
    expect(limited.some((a) => a.message!.includes('from all such clients together'))).toBe(true);
    expect(accepted).toBeLessThanOrEqual(OVERALL.burst + Math.ceil((OVERALL.perSecond * (ended - started)) / 1000));
    expect(accepted).toBeGreaterThanOrEqual(OVERALL.burst);

    // A refused request spends no nonce: the ledger holds the strangers' accepted requests, no more.
    const ledger = new Database(`${db}.nonces.db`, { readonly: true });
    try {
      const strangerKeys = new Set(strangers.map((s) => s.signer.key.thumbprint));
      const rows = ledger.prepare('SELECT identity, COUNT(*) AS n FROM rekey_nonces GROUP BY identity').all() as { identity: string; n: number }[];
      expect(rows.filter((row) => strangerKeys.has(row.identity)).reduce((sum, row) => sum + row.n, 0)).toBe(accepted);
    } finally {
      ledger.close();
    }
  }, 120_000);

  it('a newcomer right after the flood is only delayed: its agent waits the Retry-After and joins', async () => {
    const agent = new RemoteAgent({
      server: serve.url, name: 'FIN-04', group: 'Finance', keystoreFile: join(dir, 'FIN-04.keystore'),
      machinePassphrase: async () => 'FIN-04 passphrase', groupPassword: async () => PASSWORD,
    });
    await agent.open();
    await agent.join();
    expect(agent.group).toBe('Finance');
  }, 60_000);
});
