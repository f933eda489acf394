/**
 * Replay protection holds across servers (issue 18): two real `rekey serve` processes on one SQLite
 * store share the nonce ledger beside it (`<store>.nonces.db`), so a request captured on one is
 * refused by the other, whichever way round, for a registered machine's check-in and for a
 * newcomer's self-signed join alike. Before, nonces lived in each process's memory and the second
 * server accepted the captured request as new.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPasswordPackage, signProof } from '../../src/crypto/index.js';
import { joinStatement } from '../../src/engine/engine.js';
import { RemoteAgent } from '../../src/remote/agentProcess.js';
import { signedHeaders, type Signer } from '../../src/remote/client.js';
import { credentialStatement, paths } from '../../src/remote/protocol.js';
import { generateSigningKey, signingKeyFrom } from '../../src/remote/signing.js';
import { seedGroups, sendRaw, startServe, type ServeChild } from './support/serve.js';

const AGENT_VERSION = '2.23.116.23040';
const PASSWORD = 'Finance Passw0rd';

describe('two rekey serve processes on one store: a request captured on one is refused by the other', () => {
  let dir: string;
  let db: string;
  let a: ServeChild;
  let b: ServeChild;
  let member: Signer;

  /** A signed request as bytes and headers, so the very same request can be sent twice. */
  const capture = (path: string, body: unknown, signer: Signer, selfSigned = false) => {
    const bytes = Buffer.from(JSON.stringify(body));
    return { path, bytes, headers: signedHeaders('POST', path, bytes, signer.machine, signer.key.privateKey, selfSigned ? signer.key.thumbprint : undefined) };
  };
  const deliver = (server: ServeChild, request: ReturnType<typeof capture>) => sendRaw(server.url, 'POST', request.path, request.bytes, request.headers);
  const checkIn = (intervalMinutes: number) => capture(paths.checkIn('Finance', 'FIN-01'), { agentVersion: AGENT_VERSION, intervalMinutes, heldKeys: [] }, member);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rekey-replay-'));
    db = join(dir, 'rekey.db');
    await seedGroups(db, [{ name: 'Finance', password: PASSWORD }]);
    a = await startServe(db);
    b = await startServe(db);
    const agent = new RemoteAgent({
      server: a.url, name: 'FIN-01', group: 'Finance', keystoreFile: join(dir, 'FIN-01.keystore'),
      machinePassphrase: async () => 'FIN-01 passphrase', groupPassword: async () => PASSWORD,
    });
    await agent.open();
    await agent.join();
    member = { machine: 'FIN-01', key: signingKeyFrom(agent.store.contents.signingKey) };
  }, 60_000);

  afterAll(async () => {
    expect(await a?.stop()).toBe(0);
    expect(await b?.stop()).toBe(0);
    rmSync(dir, { recursive: true, force: true });
  });

  it('a registered machine\'s check-in, captured on A, is refused by B (409 REQUEST_REPLAYED); signed anew, B answers it', async () => {
    const captured = checkIn(720);
    expect((await deliver(a, captured)).status).toBe(200);
    const replayed = await deliver(b, captured);
    expect(replayed.status, JSON.stringify(replayed.body)).toBe(409);
    expect(replayed.body.error!.code).toBe('REQUEST_REPLAYED');
    // B knows the machine: a request it has not seen is answered.
    const fresh = await deliver(b, checkIn(1440));
    expect(fresh.status, JSON.stringify(fresh.body)).toBe(200);
  });

  it('the other way round: captured on B, refused by A; and by B itself', async () => {
    const captured = checkIn(360);
    expect((await deliver(b, captured)).status).toBe(200);
    expect((await deliver(a, captured)).body.error?.code).toBe('REQUEST_REPLAYED');
    expect((await deliver(b, captured)).body.error?.code).toBe('REQUEST_REPLAYED');
  });

  it('a newcomer\'s self-signed join, captured on A, is refused by B as a replay, before the engine sees it', async () => {
    const newcomer: Signer = { machine: 'FIN-02', key: generateSigningKey() };
    const start = await deliver(a, capture(paths.joinStart('Finance'), { machine: 'FIN-02', signingKey: newcomer.key.publicKeyPem }, newcomer, true));
    expect(start.status, JSON.stringify(start.body)).toBe(200);
    const opened = openPasswordPackage(start.body.passwordPackage as string, PASSWORD);
    const join = capture(paths.join('Finance'), {
      machine: 'FIN-02', machineId: '00000000-0000-4000-a000-000000000002', agentVersion: AGENT_VERSION, signingKey: newcomer.key.publicKeyPem,
      credential: { kind: 'password', keyThumbprint: opened.thumbprint },
      proof: signProof(opened.privateKey, joinStatement('Finance', 'FIN-02', opened.thumbprint)),
      credentialProof: signProof(opened.privateKey, credentialStatement('Finance', 'FIN-02', newcomer.key.thumbprint)),
    }, newcomer, true);
    expect((await deliver(a, join)).status).toBe(200);
    const replayed = await deliver(b, join);
    expect(replayed.status).toBe(409);
    expect(replayed.body.error!.code).toBe('REQUEST_REPLAYED');
  });

  it('the shared ledger is the file beside the store, keyed by the signing key', () => {
    const ledger = new Database(`${db}.nonces.db`, { readonly: true });
    try {
      const identities = ledger.prepare('SELECT DISTINCT identity FROM rekey_nonces').pluck().all() as string[];
      expect(identities).toContain(member.key.thumbprint);
    } finally {
      ledger.close();
    }
  });
});
