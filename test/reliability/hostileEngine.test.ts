/**
 * Hostile input at the engine (issue 6), on a real SQLite store with real keys. Whatever a caller
 * sends, a refused command is a RekeyError (never a TypeError or a RangeError) and writes nothing:
 * the log's head position is the same before and after. Covers what test/crypto does not: a wrong
 * password and a damaged PKCS#12 package at the engine, certificates whose dates disagree with the
 * events they would make (CERTIFICATE_DATES_MISMATCH), and names and numbers no form would send.
 * Tests marked `it.skip` state behaviour the engine does not have yet (docs/reliability.md lists them).
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createGroupCertificate, createPasswordPackage, generateKeyPair, parseCertificate, pooledKeyPairSource, signProof, wrapPrivateKey,
  type KeyPair,
} from '../../src/crypto/index.js';
import { isRekeyError } from '../../src/kernel/errors.js';
import { manualClock, plusMinutes, toIso } from '../../src/domain/time.js';
import { MachineAgent } from '../../src/engine/agent.js';
import { Engine, joinStatement, type JoinRequest } from '../../src/engine/engine.js';
import { seededIds } from '../../src/engine/ids.js';
import { createConnection } from '../../src/engine/portal.js';
import { openSqliteEventStore, type SqliteEventStore } from '../../src/store/sqlite.js';
import { T0 } from './support/crashPlan.js';
import { removeScratchDirs, scratchDir } from './support/scratch.js';

const keys = pooledKeyPairSource({ size: 3, recycle: true });
const AGENT = '2.23.116.23040';

interface World {
  readonly file: string;
  readonly store: SqliteEventStore;
  readonly clock: ReturnType<typeof manualClock>;
  readonly engine: Engine;
  agent(name: string): MachineAgent;
}

async function openWorld(name: string): Promise<World> {
  const file = join(scratchDir(`hostile-${name}`), 'rekey.db');
  const store = openSqliteEventStore({ file });
  const clock = manualClock(T0);
  const engine = await Engine.open({ store, clock, ids: seededIds(11) });
  return { file, store, clock, engine, agent: (machine) => new MachineAgent({ engine, machineId: `m-${machine}`, name: machine, agentVersion: AGENT, keys }) };
}

/** Runs a command that must be refused; returns its error after checking that the log did not move. */
async function refused(world: World, command: () => Promise<unknown>): Promise<{ code: string; message: string }> {
  const before = await world.store.headPosition();
  const error = await command().then(() => null, (caught: unknown) => caught);
  expect(await world.store.headPosition()).toBe(before);
  expect(isRekeyError(error), String(error)).toBe(true);
  return error as { code: string; message: string };
}

/** A hand-made first-key join request with a certificate valid over [notBefore, notAfter]. */
function firstKeyJoin(group: string, machine: string, keyPair: KeyPair, notBefore: number, notAfter: number, claim?: { thumbprint: string; notBefore: number; notAfter: number }): JoinRequest {
  const pem = createGroupCertificate({ keyPair, groupName: group, version: 1, notBefore: toIso(notBefore), notAfter: toIso(notAfter) }).pem;
  const parsed = parseCertificate(pem);
  const certificate = claim ? { pem, ...claim } : { pem, thumbprint: parsed.thumbprint, notBefore: Date.parse(parsed.notBefore), notAfter: Date.parse(parsed.notAfter) };
  return {
    group, machineId: `m-${machine}`, machine, agentVersion: AGENT,
    credential: { kind: 'firstKey', certificate, passwordPackage: createPasswordPackage({ privateKey: keyPair.privateKey, certificatePem: pem, password: 'P4ss-word' }) },
    proof: signProof(keyPair.privateKey, joinStatement(group, machine, certificate.thumbprint)),
  };
}

/** Stands for a 100 KB string (expanded when the engine is called), so that a failing case prints short. */
const BIG = '<100 KB of x>';
const expand = (value: unknown): unknown =>
  value === BIG ? 'x'.repeat(100_000)
    : value !== null && typeof value === 'object' && !Array.isArray(value) ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expand(v)]))
      : value;
/** The engine, with BIG expanded in every argument. */
const expanding = (engine: Engine): Engine => new Proxy(engine, {
  get(target, property) {
    const value = Reflect.get(target, property) as unknown;
    return typeof value === 'function' ? (...args: unknown[]) => (value as (...a: unknown[]) => unknown).apply(target, args.map(expand)) : value;
  },
});

const PROTOTYPE_KEYS = ['__proto__', 'constructor', 'toString', 'valueOf', 'hasOwnProperty', 'isPrototypeOf'];

describe('hostile input at the engine: refused commands are RekeyErrors and write nothing', () => {
  let world: World;
  beforeAll(async () => {
    world = await openWorld('fuzz');
    await world.engine.createGroup({ name: 'A', keyValidityPeriod: 129_600, keyExpiryGracePeriod: 64_800 });
    await world.engine.createGroup({ name: 'B' });
    await world.agent('M1').join('A', 'pw-A');
    await world.agent('M2').join('A', 'pw-A');
    await createConnection(world.engine, 'Conn', { type: 'group', name: 'A' }, { username: 'svc', password: 'secret' });
  }, 60_000);
  afterAll(async () => {
    await world.store.close();
    removeScratchDirs();
  });

  const hostileName = fc.oneof(
    fc.constantFrom('A', 'B', 'M1', 'M2', 'Conn', 'nobody', '', ' ', '-x', 'a'.repeat(101), 'Ä-ß 名前', '😀', 'a\u0000b', '../../etc', 'NaN'),
    fc.string({ unit: 'binary', maxLength: 30 }),
    fc.constant(BIG),
  );
  const hostileNumber = fc.oneof(
    fc.constantFrom(Number.NaN, Infinity, -Infinity, -1, 0, -0, 0.5, 1.5, 1e308, 2 ** 53, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 129_599, 129_600, 2_628_000, 2_628_001, 64_799, 64_800),
    fc.integer(),
    fc.double(),
  );
  const anything = fc.oneof(hostileName, hostileNumber, fc.constantFrom(null, undefined, true, {}, [], { __proto__: { x: 1 } }));
  const interval = fc.integer({ min: 1, max: 525_600 });

  type Call = { name: string; run: (engine: Engine) => Promise<unknown>; machine?: string; group?: string };
  const call = fc.oneof(
    fc.record({ n: hostileName, v: anything, g: anything }).map(({ n, v, g }): Call => ({ name: 'createGroup', run: (e) => e.createGroup({ name: n, keyValidityPeriod: v as number, keyExpiryGracePeriod: g as number }) })),
    fc.record({ g: hostileName, m: anything }).map(({ g, m }): Call => ({ name: 'setKeyValidityPeriod', run: (e) => e.setKeyValidityPeriod(g, m as number) })),
    fc.record({ g: hostileName, m: anything }).map(({ g, m }): Call => ({ name: 'setKeyExpiryGracePeriod', run: (e) => e.setKeyExpiryGracePeriod(g, m as number) })),
    fc.record({ g: hostileName, b: anything }).map(({ g, b }): Call => ({ name: 'setProactiveReencryption', run: (e) => e.setProactiveReencryption(g, b as boolean) })),
    fc.record({ g: hostileName, m: hostileName }).map(({ g, m }): Call => ({ name: 'removeMachine', group: g, machine: m, run: (e) => e.removeMachine(g, m) })),
    fc.record({ g: hostileName, m: hostileName, i: interval }).map(({ g, m, i }): Call => ({ name: 'connectMachine', group: g, machine: m, run: (e) => e.connectMachine(g, m, i) })),
    fc.record({ g: hostileName, m: hostileName }).map(({ g, m }): Call => ({ name: 'disconnectMachine', group: g, machine: m, run: (e) => e.disconnectMachine(g, m) })),
    fc.record({ g: hostileName, m: hostileName, v: anything }).map(({ g, m, v }): Call => ({ name: 'reportAgentVersion', group: g, machine: m, run: (e) => e.reportAgentVersion(g, m, v as string) })),
    fc.record({ g: hostileName, m: hostileName }).map(({ g, m }): Call => ({ name: 'acceptNewKey', run: (e) => e.acceptNewKey(g, m) })),
    fc.record({ c: hostileName, code: anything, reason: anything }).map(({ c, code, reason }): Call => ({ name: 'recordRunFailure', run: (e) => e.recordRunFailure(c, code as string, reason as string) })),
    fc.record({ g: hostileName, m: hostileName, v: anything, t: hostileName, p: anything }).map(({ g, m, v, t, p }): Call => ({
      name: 'rejoinMachine', run: (e) => e.rejoinMachine({ group: g, machine: m, agentVersion: v as string, keyThumbprint: t, proof: p as string }),
    })),
    fc.record({ g: hostileName, m: hostileName, pem: anything }).map(({ g, m, pem }): Call => ({
      name: 'issueRenewalKey', run: (e) => e.issueRenewalKey(g, m, pem as string, { alg: 'RSA-OAEP-256+A256GCM', thumbprint: 'X', encryptedKey: '', iv: '', tag: '', ciphertext: '' }),
    })),
    fc.record({ n: hostileName, t: fc.constantFrom('group', 'machine', 'nonsense'), g: hostileName }).map(({ n, t, g }): Call => ({
      name: 'createConnection', run: (e) => e.createConnection({ name: n, target: { type: t as 'group', name: g }, ciphertexts: [] }),
    })),
  );

  it('a join with a wrong password: "password is incorrect", nothing written (also for a rejoin)', async () => {
    const join = await refused(world, () => world.agent('M3').join('A', 'wrong-password'));
    expect(join.code).toBe('PASSWORD_INCORRECT');
    expect(join.message).toMatch(/^password is incorrect/);
    expect(join.message).not.toContain('wrong-password');
    const rejoin = await refused(world, async () => {
      const m2 = world.agent('M2');
      return m2.rejoin('pw-a'); // one letter off
    });
    expect(rejoin.code).toBe('PASSWORD_INCORRECT');
  });

  it('a published password package with one flipped byte: verify names its event, and it admits nobody (nothing written)', async () => {
    const damaged = await openWorld('package');
    await damaged.engine.createGroup({ name: 'P' });
    await damaged.agent('P1').join('P', 'pw-P');
    await damaged.store.close();
    const raw = new Database(damaged.file);
    const row = raw.prepare<[], { position: number; data: string }>("SELECT position, data FROM events WHERE type = 'GroupPasswordSet'").get()!;
    const data = JSON.parse(row.data) as { passwordPackage: string };
    const bytes = Buffer.from(data.passwordPackage, 'base64');
    bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
    raw.prepare('UPDATE events SET data = ? WHERE position = ?').run(JSON.stringify({ ...data, passwordPackage: bytes.toString('base64') }), row.position);
    raw.close();

    const store = openSqliteEventStore({ file: damaged.file });
    try {
      expect(await store.verify()).toMatchObject({ ok: false, position: row.position, reason: 'tampered' });
      const engine = await Engine.open({ store, clock: manualClock(plusMinutes(T0, 60)), ids: seededIds(12) });
      const reopened: World = { ...damaged, store, engine, agent: (m) => new MachineAgent({ engine, machineId: `m-${m}`, name: m, agentVersion: AGENT, keys }) };
      const error = await refused(reopened, () => reopened.agent('P2').join('P', 'pw-P'));
      expect(['PACKAGE_CORRUPT', 'PASSWORD_INCORRECT']).toContain(error.code);
    } finally {
      await store.close();
    }
  });

  it('CERTIFICATE_DATES_MISMATCH: a first key whose certificate ends a day late, or starts a minute early; nothing written', async () => {
    const keyPair = await generateKeyPair();
    const now = world.clock.now();
    const validity = world.engine.group('B').effective.validity;
    const late = await refused(world, () => world.engine.joinMachine(firstKeyJoin('B', 'B1', keyPair, now, plusMinutes(now, validity + 1440))));
    expect(late.code).toBe('CERTIFICATE_DATES_MISMATCH');
    expect(late.message).toContain(toIso(plusMinutes(now, validity)));
    const early = await refused(world, () => world.engine.joinMachine(firstKeyJoin('B', 'B1', keyPair, plusMinutes(now, -1), plusMinutes(now, validity))));
    expect(early.code).toBe('CERTIFICATE_DATES_MISMATCH');
    expect(world.engine.group('B').keys).toEqual([]);
  });

  it('CERTIFICATE_DATES_MISMATCH: a renewal key whose certificate does not last the validity in force; nothing written', async () => {
    const renewal = await openWorld('renewal');
    try {
      const first = await generateKeyPair();
      await renewal.engine.createGroup({ name: 'R', keyValidityPeriod: 129_600, keyExpiryGracePeriod: 64_800 });
      const request = firstKeyJoin('R', 'R1', first, T0, plusMinutes(T0, 129_600));
      await renewal.engine.joinMachine(request);
      renewal.clock.set(plusMinutes(T0, 64_800));
      await renewal.engine.processDue();
      expect(renewal.engine.group('R').renewal).not.toBeNull();
      const oldPem = request.credential.kind === 'firstKey' ? request.credential.certificate.pem : '';
      const next = await generateKeyPair();
      const now = renewal.clock.now();
      const pem = createGroupCertificate({ keyPair: next, groupName: 'R', version: 2, notBefore: toIso(now), notAfter: toIso(plusMinutes(now, 129_600 * 2)) }).pem;
      const error = await refused(renewal, () => renewal.engine.issueRenewalKey('R', 'R1', pem, wrapPrivateKey(next.privateKey, oldPem)));
      expect(error.code).toBe('CERTIFICATE_DATES_MISMATCH');
      expect(renewal.engine.group('R').renewal?.newVersion).toBeNull();
    } finally {
      await renewal.store.close();
    }
  });

  it('fast-check: any command with random and boundary values (NaN, huge numbers, unicode, 100 KB names) is done or refused, never half-done', async () => {
    const counts = { done: 0, refused: 0 };
    await fc.assert(fc.asyncProperty(call, async (c) => {
      if (PROTOTYPE_KEYS.includes(c.machine ?? '') || PROTOTYPE_KEYS.includes(c.group ?? '')) return; // the skipped test below
      const members = Object.keys(world.engine.fleet.group(c.group ?? '')?.members ?? {});
      const before = await world.store.headPosition();
      let recorded: unknown;
      try {
        recorded = await c.run(expanding(world.engine));
      } catch (error) {
        expect(isRekeyError(error), `${c.name}: ${String(error)}`).toBe(true);
        expect(await world.store.headPosition(), c.name).toBe(before);
        counts.refused++;
        return;
      }
      counts.done++;
      expect(await world.store.headPosition()).toBe(before + (recorded as unknown[]).length);
      // A member's events only ever name a member.
      if (c.machine !== undefined && (recorded as unknown[]).length > 0) expect(members).toContain(c.machine);
    }), { numRuns: 1000, seed: 6 });
    expect(counts.refused).toBeGreaterThan(500);
    expect(await world.store.verify()).toMatchObject({ ok: true });
  }, 60_000);

  // Enable when Engine.joinMachine takes a first key's thumbprint and dates from its certificate
  // (as issueRenewalKey does with `presented(pem)`), not from what the caller claims beside it.
  it('a first key is known by its certificate: claimed dates or thumbprint that differ from the PEM are refused', async () => {
    const keyPair = await generateKeyPair();
    const now = world.clock.now();
    const validity = world.engine.group('B').effective.validity;
    const honest = { thumbprint: 'not-the-thumbprint', notBefore: now, notAfter: plusMinutes(now, validity) };
    const error = await refused(world, () => world.engine.joinMachine(firstKeyJoin('B', 'B1', keyPair, now, plusMinutes(now, validity + 1440), honest)));
    expect(error.code).toBe('CERTIFICATE_DATES_MISMATCH');
  });

  // Enable when the group decider looks members up as own properties (Object.hasOwn or a Map):
  // today `state.members['toString']` is Object.prototype.toString, so these commands act on a
  // machine that is not a member, and a phantom member then breaks the scheduler for every group.
  it('machine names that are Object.prototype keys are nobody: refused as MACHINE_NOT_MEMBER, and may join', async () => {
    const proto = await openWorld('proto');
    try {
      await proto.engine.createGroup({ name: 'Q', keyValidityPeriod: 129_600, keyExpiryGracePeriod: 64_800 });
      await proto.agent('Q1').join('Q', 'pw-Q');
      for (const name of PROTOTYPE_KEYS) {
        for (const command of [
          () => proto.engine.removeMachine('Q', name),
          () => proto.engine.connectMachine('Q', name),
          () => proto.engine.disconnectMachine('Q', name),
          () => proto.engine.reportAgentVersion('Q', name, '2.24.0.0'),
        ]) expect((await refused(proto, command)).code, name).toBe('MACHINE_NOT_MEMBER');
      }
      await proto.agent('constructor').join('Q', 'pw-Q');
      expect(Object.keys(proto.engine.group('Q').members).sort()).toEqual(['Q1', 'constructor']);
      proto.clock.set(plusMinutes(T0, 129_600 + 1));
      await expect(proto.engine.processDue()).resolves.toBeDefined();
    } finally {
      await proto.store.close();
    }
  });

  // Enable when ConnectMachine refuses a check-in interval that is not a whole number of minutes in
  // 1..525,600 (today 0, -5, 1.5 and 1e308 are recorded, and NaN or Infinity become null in the log).
  it.skip('a check-in interval that is not a whole number of minutes in range is refused', async () => {
    const intervals = await openWorld('intervals');
    try {
      await intervals.engine.createGroup({ name: 'I' });
      await intervals.agent('I1').join('I', 'pw-I');
      await intervals.engine.disconnectMachine('I', 'I1');
      for (const interval of [0, -5, 1.5, 1e308, Number.NaN, Infinity]) {
        const error = await refused(intervals, () => intervals.engine.connectMachine('I', 'I1', interval));
        expect(error.code, String(interval)).toMatch(/MINUTES|INTERVAL|RANGE/);
      }
    } finally {
      await intervals.store.close();
    }
  });
});
