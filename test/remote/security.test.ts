/**
 * The machine API refuses what it must, and a refusal changes nothing (issue 9): unauthenticated,
 * forged, tampered, stale and replayed requests, a machine acting for another, and a machine of
 * another group, each answered 401/403/409 with {"error": {"code", "message"}}, the log's head
 * position unchanged. Real HTTP on loopback, real keys, in-process agents for the setup.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPasswordPackage, signProof } from '../../src/crypto/index.js';
import { parseInstant } from '../../src/domain/time.js';
import { joinStatement } from '../../src/engine/engine.js';
import { RemoteAgent } from '../../src/remote/agentProcess.js';
import { signedHeaders, type Signer } from '../../src/remote/client.js';
import { credentialStatement, paths } from '../../src/remote/protocol.js';
import { generateSigningKey } from '../../src/remote/signing.js';
import { joinedAgents, startService, type TestService } from './support/service.js';

const CHECK_IN = { agentVersion: '2.23.116.23040', intervalMinutes: 1440, heldKeys: [] as string[] };

describe('the machine API refuses unauthenticated, forged, replayed and misdirected requests', () => {
  let service: TestService;
  const agents: Record<string, RemoteAgent> = {};
  const signers: Record<string, Signer> = {};

  const head = () => service.store.headPosition();
  const send = async (method: 'GET' | 'POST', path: string, body: unknown, headers: Record<string, string>) => {
    const response = await fetch(`${service.url}${path}`, {
      method,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as { error?: { code: string; message: string } } & Record<string, unknown> };
  };
  /** A request signed as `signer` would sign it (the agent's own client does exactly this). */
  const signed = (method: 'GET' | 'POST', path: string, body: unknown, signer: Signer, overrides: { timestamp?: string; machine?: string; bodySigned?: unknown; selfSigned?: boolean } = {}) => {
    const signedBody = 'bodySigned' in overrides ? overrides.bodySigned : body;
    const bytes = signedBody === undefined ? Buffer.alloc(0) : Buffer.from(typeof signedBody === 'string' ? signedBody : JSON.stringify(signedBody));
    return signedHeaders(method, path, bytes, overrides.machine ?? signer.machine, signer.key.privateKey, overrides.selfSigned ? signer.key.thumbprint : undefined, overrides.timestamp);
  };
  /** Sends and checks the refusal: status, error code, the error shape, and that the log did not move. */
  const refused = async (status: number, code: string, request: () => Promise<{ status: number; body: { error?: { code: string; message: string } } }>) => {
    const before = await head();
    const response = await request();
    expect(response.status).toBe(status);
    expect(Object.keys(response.body)).toEqual(['error']);
    expect(response.body.error).toEqual({ code, message: expect.any(String) });
    expect(response.body.error!.message.length).toBeGreaterThan(10);
    expect(await head()).toBe(before);
  };

  beforeAll(async () => {
    service = await startService({ start: parseInstant('2026-01-01T00:00:00Z'), speed: 1, api: { tickMs: 0 } });
    for (const name of ['Finance', 'Sales']) await service.access.exclusive((engine) => engine.createGroup({ name }));
    const dir = mkdtempSync(join(tmpdir(), 'rekey-security-'));
    const joined = await joinedAgents(service, dir, [['FIN-01', 'Finance'], ['FIN-02', 'Finance'], ['SAL-01', 'Sales']]);
    Object.assign(agents, joined.agents);
    Object.assign(signers, joined.signers);
  }, 60_000);

  afterAll(async () => {
    await service?.close();
  });

  it('a well-signed check-in is answered (the baseline the refusals below depart from)', async () => {
    const path = paths.checkIn('Finance', 'FIN-01');
    const response = await send('POST', path, CHECK_IN, signed('POST', path, CHECK_IN, signers['FIN-01']!));
    expect(response.status).toBe(200);
    expect(response.body.action).toEqual({ kind: 'none' });
  });

  it('an unauthenticated request is refused (401 AUTH_REQUIRED)', async () => {
    const path = paths.checkIn('Finance', 'FIN-01');
    await refused(401, 'AUTH_REQUIRED', () => send('POST', path, CHECK_IN, {}));
    await refused(401, 'AUTH_REQUIRED', () => send('GET', paths.machine('Finance', 'FIN-01'), undefined, {}));
    await refused(401, 'AUTH_REQUIRED', () => send('POST', paths.password('Finance', 'FIN-01'), { packageThumbprint: 'A'.repeat(64), passwordPackage: 'AAAA' }, {}));
  });

  it('a forged request is refused: another key, a tampered body, an unknown machine (401)', async () => {
    const path = paths.checkIn('Finance', 'FIN-01');
    const forger: Signer = { machine: 'FIN-01', key: generateSigningKey() };
    await refused(401, 'SIGNATURE_INVALID', () => send('POST', path, CHECK_IN, signed('POST', path, CHECK_IN, forger)));
    // Signed over one body, sent with another.
    const tampered = { ...CHECK_IN, intervalMinutes: 60 };
    await refused(401, 'SIGNATURE_INVALID', () => send('POST', path, tampered, signed('POST', path, tampered, signers['FIN-01']!, { bodySigned: CHECK_IN })));
    // Signed for another path.
    const other = paths.checkIn('Finance', 'FIN-01') + '?x=1';
    await refused(401, 'SIGNATURE_INVALID', () => send('POST', other, CHECK_IN, signed('POST', path, CHECK_IN, signers['FIN-01']!)));
    // A machine the service never registered.
    const stranger: Signer = { machine: 'FIN-99', key: generateSigningKey() };
    await refused(401, 'CREDENTIAL_UNKNOWN', () => send('POST', paths.checkIn('Finance', 'FIN-99'), CHECK_IN, signed('POST', paths.checkIn('Finance', 'FIN-99'), CHECK_IN, stranger)));
  });

  it('a stale request is refused (401 REQUEST_STALE)', async () => {
    const path = paths.checkIn('Finance', 'FIN-01');
    const old = String(Date.now() - 10 * 60_000);
    await refused(401, 'REQUEST_STALE', () => send('POST', path, CHECK_IN, signed('POST', path, CHECK_IN, signers['FIN-01']!, { timestamp: old })));
  });

  it('a replayed request is refused (409 REQUEST_REPLAYED) and changes nothing', async () => {
    const path = paths.checkIn('Finance', 'FIN-02');
    const body = { ...CHECK_IN, intervalMinutes: 720 }; // changes the session's cadence: recorded once
    const headers = signed('POST', path, body, signers['FIN-02']!);
    const before = await head();
    expect((await send('POST', path, body, headers)).status).toBe(200);
    expect(await head()).toBeGreaterThan(before);
    await refused(409, 'REQUEST_REPLAYED', () => send('POST', path, body, headers));
  });

  it('a replayed join is refused too, and a join whose proofs do not verify records nothing', async () => {
    const start = await send('POST', paths.joinStart('Finance'), undefined, {});
    expect(start.status).toBe(401);
    // A newcomer with the right password joins once; the same request again is a replay.
    const newcomer: Signer = { machine: 'FIN-03', key: generateSigningKey() };
    const startBody = { machine: 'FIN-03', signingKey: newcomer.key.publicKeyPem };
    const started = await send('POST', paths.joinStart('Finance'), startBody, signed('POST', paths.joinStart('Finance'), startBody, newcomer, { selfSigned: true }));
    expect(started.status).toBe(200);
    const opened = openPasswordPackage(started.body.passwordPackage as string, 'Finance Passw0rd');
    const joinBody = {
      machine: 'FIN-03', machineId: '00000000-0000-4000-a000-000000000003', agentVersion: '2.23.116.23040', signingKey: newcomer.key.publicKeyPem,
      credential: { kind: 'password', keyThumbprint: opened.thumbprint },
      proof: signProof(opened.privateKey, joinStatement('Finance', 'FIN-03', opened.thumbprint)),
      credentialProof: signProof(opened.privateKey, credentialStatement('Finance', 'FIN-03', newcomer.key.thumbprint)),
    };
    const joinHeaders = signed('POST', paths.join('Finance'), joinBody, newcomer, { selfSigned: true });
    expect((await send('POST', paths.join('Finance'), joinBody, joinHeaders)).status).toBe(200);
    await refused(409, 'REQUEST_REPLAYED', () => send('POST', paths.join('Finance'), joinBody, joinHeaders));
    // Someone without the group key: the credential proof is made with a key of its own.
    const intruder: Signer = { machine: 'FIN-04', key: generateSigningKey() };
    const { privateKey: ownKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const forgedJoin = { ...joinBody, machine: 'FIN-04', machineId: '00000000-0000-4000-a000-000000000004', signingKey: intruder.key.publicKeyPem, credentialProof: signProof(ownKey, credentialStatement('Finance', 'FIN-04', intruder.key.thumbprint)) };
    await refused(401, 'SIGNATURE_INVALID', () => send('POST', paths.join('Finance'), forgedJoin, signed('POST', paths.join('Finance'), forgedJoin, intruder, { selfSigned: true })));
  });

  it('a machine acting for another is refused (403 MACHINE_MISMATCH)', async () => {
    const path = paths.checkIn('Finance', 'FIN-02');
    await refused(403, 'MACHINE_MISMATCH', () => send('POST', path, CHECK_IN, signed('POST', path, CHECK_IN, signers['FIN-01']!)));
    const password = paths.password('Finance', 'FIN-02');
    const body = { packageThumbprint: 'A'.repeat(64), passwordPackage: 'AAAA' };
    await refused(403, 'MACHINE_MISMATCH', () => send('POST', password, body, signed('POST', password, body, signers['FIN-01']!)));
    // Signing as FIN-01 while claiming to be FIN-02 is a forgery: FIN-02's key does not verify it.
    await refused(401, 'SIGNATURE_INVALID', () => send('POST', path, CHECK_IN, signed('POST', path, CHECK_IN, signers['FIN-01']!, { machine: 'FIN-02' })));
    // Rejoining as another machine needs that machine's claim signed for it.
    const rejoin = paths.rejoin('Finance', 'FIN-02');
    const rejoinBody = { agentVersion: '2.23.116.23040', signingKey: signers['FIN-01']!.key.publicKeyPem, keyThumbprint: 'A'.repeat(64), proof: 'AAAA', credentialProof: 'AAAA' };
    await refused(403, 'MACHINE_MISMATCH', () => send('POST', rejoin, rejoinBody, signed('POST', rejoin, rejoinBody, signers['FIN-01']!, { selfSigned: true })));
  });

  it('a machine of another group is refused (403 GROUP_MISMATCH)', async () => {
    const sales = signers['SAL-01']!;
    for (const [method, path, body] of [
      ['POST', paths.checkIn('Finance', 'SAL-01'), CHECK_IN],
      ['GET', paths.machine('Finance', 'SAL-01'), undefined],
      ['GET', paths.runs('Finance', 'SAL-01'), undefined],
      ['POST', paths.reencryptions('Finance', 'SAL-01'), { connection: 'Invoices', ciphertext: { alg: 'RSA-OAEP-256+A256GCM', thumbprint: 'A'.repeat(64), encryptedKey: 'AAAA', iv: 'AAAA', tag: 'AAAA', ciphertext: 'AAAA' } }],
    ] as const) {
      await refused(403, 'GROUP_MISMATCH', () => send(method, path, body, signed(method, path, body, sales)));
    }
    // ... nor can it act for a Finance machine.
    const path = paths.checkIn('Finance', 'FIN-01');
    await refused(403, 'MACHINE_MISMATCH', () => send('POST', path, CHECK_IN, signed('POST', path, CHECK_IN, sales)));
  });

  it('a run handed to one machine cannot be reported by another (404 RUN_NOT_ASSIGNED)', async () => {
    await service.access.exclusive(async (engine) => {
      const { createConnection } = await import('../../src/engine/portal.js');
      await createConnection(engine, 'Invoices', { type: 'group', name: 'Finance' }, { username: 'CONTOSO\\svc', password: 'n0t-in-the-log' });
    });
    const { runId } = await service.plugin.runs.request('Invoices');
    const offered = await send('GET', paths.runs('Finance', 'FIN-01'), undefined, signed('GET', paths.runs('Finance', 'FIN-01'), undefined, signers['FIN-01']!));
    expect((offered.body.runs as { runId: string }[]).map((r) => r.runId)).toEqual([runId]);
    const report = paths.run('Finance', 'FIN-02', runId!);
    const body = { outcome: 'run', keyThumbprint: service.engine.group('Finance').keys[0]!.thumbprint, reencrypted: null };
    await refused(404, 'RUN_NOT_ASSIGNED', () => send('POST', report, body, signed('POST', report, body, signers['FIN-02']!)));
  });

  it('malformed bodies are refused before anything happens (400 REQUEST_INVALID)', async () => {
    const path = paths.checkIn('Finance', 'FIN-01');
    await refused(400, 'REQUEST_INVALID', () => send('POST', path, '{not json', signed('POST', path, undefined, signers['FIN-01']!, { bodySigned: '{not json' })));
    const wrong = { agentVersion: '2.23', intervalMinutes: -1, heldKeys: [] };
    await refused(400, 'REQUEST_INVALID', () => send('POST', path, wrong, signed('POST', path, wrong, signers['FIN-01']!)));
  });
});
