/**
 * A member can act only as itself, the machine API tells strangers nothing about the fleet, and
 * every name it is sent follows the names rule (issue 18). Real HTTP on loopback, real keys, agents
 * in process for the setup.
 *
 * The takeover this closes: every member holds the group key, and the group key was all a rejoin
 * proved. So FIN-01 could rejoin *as FIN-02*, register a request-signing key of its own under
 * FIN-02's name, and from then on check in, take runs and disconnect as FIN-02, while FIN-02's own
 * agent was refused (401) with the key it had.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signProof } from '../../src/crypto/index.js';
import { parseInstant } from '../../src/domain/time.js';
import { joinStatement } from '../../src/engine/engine.js';
import { RemoteAgent } from '../../src/remote/agentProcess.js';
import { signedHeaders, type Signer } from '../../src/remote/client.js';
import { HEADER, credentialStatement, paths } from '../../src/remote/protocol.js';
import { generateSigningKey } from '../../src/remote/signing.js';
import { sendRaw } from './support/serve.js';
import { agentFor, joinedAgents, startService, type TestService } from './support/service.js';

const AGENT_VERSION = '2.23.116.23040';
const CHECK_IN = { agentVersion: AGENT_VERSION, intervalMinutes: 1440, heldKeys: [] as string[] };
const RAW_HOSTILE = /[\p{Cc}\p{Cf}\u2028\u2029]/u;

describe('a member acts only as itself; strangers learn nothing; names are checked', () => {
  let service: TestService;
  let dir: string;
  const agents: Record<string, RemoteAgent> = {};
  const signers: Record<string, Signer> = {};

  const head = () => service.store.headPosition();
  const send = (method: 'GET' | 'POST', path: string, body: unknown, headers: Record<string, string>) =>
    sendRaw(service.url, method, path, body === undefined ? undefined : Buffer.from(JSON.stringify(body)), headers);
  const signed = (method: string, path: string, body: unknown, signer: Signer, selfSigned = false) =>
    signedHeaders(method, path, body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(body)), signer.machine, signer.key.privateKey, selfSigned ? signer.key.thumbprint : undefined);

  beforeAll(async () => {
    service = await startService({ start: parseInstant('2026-01-01T00:00:00Z'), speed: 1, api: { tickMs: 0 } });
    for (const name of ['Finance', 'Sales']) await service.access.exclusive((engine) => engine.createGroup({ name }));
    dir = mkdtempSync(join(tmpdir(), 'rekey-identity-'));
    const joined = await joinedAgents(service, dir, [['FIN-01', 'Finance'], ['FIN-02', 'Finance']]);
    Object.assign(agents, joined.agents);
    Object.assign(signers, joined.signers);
  }, 60_000);

  afterAll(async () => {
    await service?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** FIN-01's rejoin request in FIN-02's name: signed with a key FIN-01 made, proved with the group key FIN-01 holds. */
  const rejoinAs = (victim: string, attackerKey: Signer['key']) => {
    const groupKey = agents['FIN-01']!.store.contents.groupKeys[0]!;
    const body = {
      agentVersion: AGENT_VERSION,
      signingKey: attackerKey.publicKeyPem,
      keyThumbprint: groupKey.thumbprint,
      proof: signProof(groupKey.privateKey, joinStatement('Finance', victim, groupKey.thumbprint)),
      credentialProof: signProof(groupKey.privateKey, credentialStatement('Finance', victim, attackerKey.thumbprint)),
    };
    const path = paths.rejoin('Finance', victim);
    return send('POST', path, body, signed('POST', path, body, { machine: victim, key: attackerKey }, true));
  };

  it('FIN-01, holding the group key, cannot rejoin as FIN-02 with a key of its own (403 MACHINE_MISMATCH, nothing recorded)', async () => {
    const before = await head();
    const attackerKey = generateSigningKey();
    const takeover = await rejoinAs('FIN-02', attackerKey);
    expect(takeover.status, JSON.stringify(takeover.body)).toBe(403);
    expect(takeover.body.error!.code).toBe('MACHINE_MISMATCH');
    expect(takeover.body.error!.message).toContain(`machine FIN-02 of Finance is registered with request-signing key ${signers['FIN-02']!.key.thumbprint}`);
    expect(takeover.body.error!.message).toContain('removeMachine');
    expect(await head()).toBe(before);
    // The attacker's key is nobody's: it cannot check in as FIN-02 ...
    const path = paths.checkIn('Finance', 'FIN-02');
    const asVictim = await send('POST', path, CHECK_IN, signed('POST', path, CHECK_IN, { machine: 'FIN-02', key: attackerKey }));
    expect(asVictim.status).toBe(401);
    expect(asVictim.body.error!.code).toBe('SIGNATURE_INVALID');
    // ... and FIN-02's own agent still can.
    const own = await agents['FIN-02']!.checkIn();
    expect(own.machine.machine).toBe('FIN-02');
    expect(service.engine.group('Finance').members['FIN-02']!.connected).toBe(true);
  });

  it('nor with its own registered key (403 MACHINE_MISMATCH)', async () => {
    const before = await head();
    const response = await rejoinAs('FIN-02', signers['FIN-01']!.key);
    expect(response.status).toBe(403);
    expect(response.body.error!.code).toBe('MACHINE_MISMATCH');
    expect(await head()).toBe(before);
  });

  it('FIN-02 itself rejoins with its own key (the rule refuses only others)', async () => {
    const before = await head();
    await agents['FIN-02']!.rejoin();
    const rejoined = (await service.store.readAll(before + 1, 100)).filter((e) => e.type === 'MachineRejoined');
    expect(rejoined.map((e) => e.data.machine)).toEqual(['FIN-02']);
  });

  it('a machine that lost its key store joins again only after the operator removed it', async () => {
    const replacement = agentFor(service, dir, 'FIN-02', 'Finance', 'FIN-02-new.keystore');
    await replacement.open();
    // A new key store means a new key: rejoining with it is refused like any other member's would be.
    await expect(replacement.rejoin()).rejects.toMatchObject({ code: 'MACHINE_MISMATCH', status: 403 });
    await service.access.exclusive((engine) => engine.removeMachine('Finance', 'FIN-02'));
    await replacement.join();
    expect((await replacement.checkIn()).machine.machine).toBe('FIN-02');
    expect(service.engine.group('Finance').members['FIN-02']!.connected).toBe(true);
    // The old key of FIN-02 is now nobody's.
    const path = paths.checkIn('Finance', 'FIN-02');
    const old = await send('POST', path, CHECK_IN, signed('POST', path, CHECK_IN, signers['FIN-02']!));
    expect(old.status).toBe(401);
    expect(old.body.error!.code).toBe('SIGNATURE_INVALID');
  });

  it('a stranger asking for a group that does not exist is not told which groups do', async () => {
    const stranger: Signer = { machine: 'NEW-01', key: generateSigningKey() };
    const body = { machine: 'NEW-01', signingKey: stranger.key.publicKeyPem };
    const path = paths.joinStart('Nowhere');
    const response = await send('POST', path, body, signed('POST', path, body, stranger, true));
    expect(response.status).toBe(404);
    expect(response.body.error).toEqual({ code: 'GROUP_NOT_FOUND', message: 'machine group Nowhere not found' });
  });

  it('a machine whose name is 100 letters of another script joins and checks in (the rule refuses only what it must)', async () => {
    const name = `${'財務'.repeat(49)}01`;
    const agent = agentFor(service, dir, name, 'Finance', 'long.keystore');
    await agent.open();
    await agent.join();
    expect((await agent.checkIn()).machine.machine).toBe(name);
  });

  it('names in the path, in the signing header and in bodies follow the names rule (400, the character named, never echoed)', async () => {
    const stranger: Signer = { machine: 'NEW-02', key: generateSigningKey() };
    const expectRefusal = async (response: Awaited<ReturnType<typeof send>>, code: string, text: string) => {
      expect(response.status, JSON.stringify(response.body)).toBe(400);
      expect(response.body.error!.code).toBe(code);
      expect(response.body.error!.message).toContain(text);
      expect(response.body.error!.message).not.toMatch(RAW_HOSTILE);
    };
    const before = await head();
    // A group name with a newline, in the path.
    const startBody = { machine: 'NEW-02', signingKey: stranger.key.publicKeyPem };
    const badGroup = `${paths.joinStart('Fin\nance')}`;
    await expectRefusal(await send('POST', badGroup, startBody, signed('POST', badGroup, startBody, stranger, true)), 'NAME_INVALID', 'machine group name in the path "Fin\\u{A}ance" is invalid: character 4 is U+000A (a control character)');
    // A machine name with an escape sequence, in the path and the header alike.
    const evil = 'FIN-01\u001b[2J';
    const machinePath = paths.checkIn('Finance', evil);
    await expectRefusal(await send('POST', machinePath, CHECK_IN, signed('POST', machinePath, CHECK_IN, { machine: evil, key: signers['FIN-01']!.key })), 'NAME_INVALID', 'character 7 is U+001B (a control character)');
    // In the signing header only.
    const checkIn = paths.checkIn('Finance', 'FIN-01');
    const headers = { ...signed('POST', checkIn, CHECK_IN, signers['FIN-01']!), [HEADER.machine]: encodeURIComponent('FIN\u202E01') };
    await expectRefusal(await send('POST', checkIn, CHECK_IN, headers), 'NAME_INVALID', `machine name in header ${HEADER.machine} "FIN\\u{202E}01" is invalid: character 4 is U+202E`);
    // A join whose body names a machine with a newline (signed for that very name).
    const newline: Signer = { machine: 'NEW\n03', key: generateSigningKey() };
    const joinStart = paths.joinStart('Finance');
    const newlineBody = { machine: 'NEW\n03', signingKey: newline.key.publicKeyPem };
    await expectRefusal(await send('POST', joinStart, newlineBody, signed('POST', joinStart, newlineBody, newline, true)), 'NAME_INVALID', 'character 4 is U+000A');
    // A connection name in a signed body.
    const reencrypt = paths.reencryptions('Finance', 'FIN-01');
    const envelope = { alg: 'RSA-OAEP-256+A256GCM', thumbprint: 'A'.repeat(64), encryptedKey: 'AAAA', iv: 'AAAA', tag: 'AAAA', ciphertext: 'AAAA' };
    const reencryptBody = { connection: 'Invoices\u0007', ciphertext: envelope };
    await expectRefusal(await send('POST', reencrypt, reencryptBody, signed('POST', reencrypt, reencryptBody, signers['FIN-01']!)), 'NAME_INVALID', 'body.connection "Invoices\\u{7}" is invalid: character 9 is U+0007 (a control character)');
    expect(await head()).toBe(before);
  });
});
