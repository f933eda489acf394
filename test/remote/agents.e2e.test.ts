/**
 * End to end on loopback (issue 9): a rekey service (the machine API plugin in a fastify instance,
 * on a test clock running 518,400 times faster than real time: a day every 167 ms) and three real
 * `rekey agent` processes (the built CLI) through a renewal. FIN-03 is killed (SIGKILL) before the
 * renewal window, restarted after the old key expired, finds itself KeyExpired, and rejoins after
 * FIN-01 regenerated the group password. Every byte between the agents and the service goes through
 * a recording TCP proxy and is searched for secrets. The service's tables are then compared with a
 * simulation (src/simulation) of the same timeline, for the same machines.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pooledKeyPairSource } from '../../src/crypto/index.js';
import { MS_PER_MINUTE, parseInstant, plusMinutes, toIso, type Instant } from '../../src/domain/time.js';
import { createConnection } from '../../src/engine/portal.js';
import { loadScenario } from '../../src/simulation/loader.js';
import { simulate } from '../../src/simulation/simulator.js';
import { createInMemoryEventStore } from '../../src/store/memory.js';
import type { EventStore, RecordedEvent } from '../../src/store/port.js';
import { tablesAt } from '../../projections/index.js';
import { secretsFound } from '../engine/secrets.js';
import { spawnAgent, until, type AgentChild } from './support/agents.js';
import { recordingProxy, type RecordingProxy } from './support/proxy.js';
import { collectKeystoreSecrets, emptySecrets } from './support/secrets.js';
import { startService, type TestService } from './support/service.js';

const T0 = parseInstant('2026-01-01T00:00:00Z');
const DAY = 1440;
const SPEED = 518_400;
const VALIDITY = 259_200; // 180 days
const GRACE = 64_800; // 45 days: the window is [day 135, day 180) after the first key
const PASSWORDS = ['Tr1cky-Passw0rd', 'Another-0ne'] as const;
const PASSPHRASES: Record<string, string> = { 'FIN-01': 'fin-01 machine passphrase', 'FIN-02': 'fin-02 machine passphrase', 'FIN-03': 'fin-03 machine passphrase' };
const CREDENTIAL = { username: 'CONTOSO\\svc-invoices', password: 'n0t-in-the-log' };

describe('three rekey agent processes through a renewal, against the machine API on a test clock', () => {
  let service: TestService;
  let proxy: RecordingProxy;
  const agents: AgentChild[] = [];
  const secrets = emptySecrets();
  let events: RecordedEvent[] = [];
  const at: Record<string, Instant> = {};
  let keystoreOf: (name: string) => string;
  let restartedC: AgentChild;
  let rejoinedC: AgentChild;

  const ofType = (type: string) => events.filter((event) => event.type === type);
  const day = (instant: Instant) => (instant - T0) / (DAY * MS_PER_MINUTE);
  const group = () => service.engine.group('Finance');
  const agent = (name: string, extra: string[] = [], env: Record<string, string> = {}) => {
    const child = spawnAgent(name, ['--server', proxy.url, '--keystore', keystoreOf(name), '--poll-seconds', '0.1', ...extra], {
      REKEY_MACHINE_PASSPHRASE: PASSPHRASES[name]!,
      ...env,
    });
    agents.push(child);
    return child;
  };

  beforeAll(async () => {
    service = await startService({ start: T0, speed: SPEED, api: { staleAfterIntervals: 10 } });
    proxy = await recordingProxy(service.url);
    keystoreOf = (name) => join(service.dir, `agent-${name}.keystore`);
    await service.access.exclusive((engine) => engine.createGroup({ name: 'Finance', keyValidityPeriod: VALIDITY, keyExpiryGracePeriod: GRACE }));

    // ---- joins: FIN-01 first (it issues the group's first certificate), then the other two ----
    const a = agent('FIN-01', ['--group', 'Finance'], { REKEY_GROUP_PASSWORD: PASSWORDS[0] });
    await a.waitFor((e) => e.event === 'joined', 'joined');
    const b = agent('FIN-02', ['--group', 'Finance'], { REKEY_GROUP_PASSWORD: PASSWORDS[0] });
    const c = agent('FIN-03', ['--group', 'Finance'], { REKEY_GROUP_PASSWORD: PASSWORDS[0] });
    await Promise.all([b.waitFor((e) => e.event === 'joined', 'joined'), c.waitFor((e) => e.event === 'joined', 'joined')]);
    await service.access.exclusive((engine) => createConnection(engine, 'Invoices', { type: 'group', name: 'Finance' }, CREDENTIAL));
    collectKeystoreSecrets(secrets, keystoreOf('FIN-03'), PASSPHRASES['FIN-03']!);

    // ---- FIN-03 dies (SIGKILL: no goodbye) well before the renewal window opens at day 135 ----
    await until(() => day(service.clock.now()) >= 100, 'day 100');
    c.child.kill('SIGKILL');
    at.killed = service.clock.now();
    await c.exited;

    // ---- the renewal: one of FIN-01/FIN-02 issues the new key, the other takes it ----
    await until(() => {
      const state = group();
      const v2 = state.keys.find((k) => k.version === 2);
      return v2 !== undefined && ['FIN-01', 'FIN-02'].every((m) => state.members[m]!.keyVersions.includes(2));
    }, 'FIN-01 and FIN-02 to hold key version 2');
    for (const name of ['FIN-01', 'FIN-02']) collectKeystoreSecrets(secrets, keystoreOf(name), PASSPHRASES[name]!);

    // ---- a desktop flow run during the window: decrypted on the machine, re-encrypted to the new key ----
    await service.plugin.runs.request('Invoices');
    await until(() => service.engine.connection('Invoices').ciphertexts.length === 2, 'the run to re-encrypt Invoices to the new key');

    // ---- the old key retires at E; FIN-03 missed the window ----
    const endsAt = group().renewal!.endsAt;
    at.expiry = endsAt;
    await until(() => service.clock.now() >= plusMinutes(endsAt, 5 * DAY), 'five days past the end of the window');
    expect(group().members['FIN-03']!.status).toBe(3);

    // The admin's steps happen while the test holds the service clock, so that slow process starts on
    // a busy machine cannot let the next renewal begin meanwhile (the clock stands still, as for a
    // certificate being built).
    const release = service.clock.hold(120_000);
    at.restarted = service.clock.now();
    try {
      restartedC = agent('FIN-03');
      await restartedC.waitFor((e) => e.event === 'rejoinRequired', 'rejoinRequired');
      const regenerate = agent('FIN-01', ['--regenerate-password'], { REKEY_NEW_GROUP_PASSWORD: PASSWORDS[1] });
      await regenerate.waitFor((e) => e.event === 'passwordRegenerated', 'passwordRegenerated');
      expect(await regenerate.exited).toBe(0);
      expect(await restartedC.stop()).toBe(0);
      rejoinedC = agent('FIN-03', ['--rejoin'], { REKEY_GROUP_PASSWORD: PASSWORDS[1] });
      await rejoinedC.waitFor((e) => e.event === 'rejoined', 'rejoined');
      await rejoinedC.waitFor((e) => e.event === 'checkedIn', 'a check-in after rejoining');
    } finally {
      release();
    }
    collectKeystoreSecrets(secrets, keystoreOf('FIN-03'), PASSPHRASES['FIN-03']!);

    // ---- a few more days of everyone checking in, then every agent stops ----
    await until(() => service.clock.now() >= at.restarted! + 10 * DAY * MS_PER_MINUTE, 'ten more days');
    for (const child of [a, b, rejoinedC]) expect(await child.stop()).toBe(0);
    at.end = service.clock.now();
    events = await service.store.readAll(1, 1_000_000);
  }, 150_000);

  afterAll(async () => {
    for (const child of agents) if (child.child.exitCode === null && child.child.signalCode === null) child.child.kill('SIGKILL');
    await proxy?.close();
    await service?.close();
  });

  it('R7, R11, R12: FIN-01 issued the first key; the renewal key was issued by one member and taken by the other', () => {
    const issued = ofType('KeyIssued').map((e) => [e.data.version, e.data.issuedBy]);
    expect(issued[0]).toEqual([1, 'FIN-01']);
    expect(issued).toHaveLength(2);
    const issuer = issued[1]![1] as string;
    expect(['FIN-01', 'FIN-02']).toContain(issuer);
    const taker = issuer === 'FIN-01' ? 'FIN-02' : 'FIN-01';
    expect(ofType('MachineKeyDelivered').map((e) => [e.data.machine, e.data.keyVersion])).toEqual([[taker, 2]]);
    expect(agents.find((x) => x.name === issuer)!.events.some((e) => e.event === 'issuedKey')).toBe(true);
  });

  it('R15, R17: FIN-03, killed before the window, became KeyExpired at E and rejoined after the password was regenerated', () => {
    expect(ofType('MachineKeyExpired').map((e) => [e.data.machine, e.metadata.occurredAt])).toEqual([['FIN-03', toIso(at.expiry!)]]);
    expect(at.killed!).toBeLessThan(group().keys.find((k) => k.version === 2)!.createdAt);
    const regenerated = ofType('GroupPasswordRegenerated');
    const rejoined = ofType('MachineRejoined');
    expect(regenerated.map((e) => e.data.machine)).toEqual(['FIN-01']);
    expect(rejoined.map((e) => e.data.machine)).toEqual(['FIN-03']);
    expect(rejoined[0]!.position).toBeGreaterThan(regenerated[0]!.position);
    expect(ofType('GroupKeyExpired')).toEqual([]);
    const members = group().members;
    expect(Object.values(members).map((m) => [m.name, m.status, m.keyVersions]).sort()).toEqual([
      ['FIN-01', 1, [2]], ['FIN-02', 1, [2]], ['FIN-03', 1, [2]],
    ]);
  });

  it('the restarted agent carried on from its key store: same machine id, no second join', () => {
    const started = agents.filter((x) => x.name === 'FIN-03').map((x) => x.events.find((e) => e.event === 'started'));
    const ids = new Set(started.map((e) => (e as { machineId: string }).machineId));
    expect(ids.size).toBe(1);
    expect(restartedC.events.some((e) => e.event === 'joined')).toBe(false);
    expect(restartedC.events.find((e) => e.event === 'started')).toMatchObject({ group: 'Finance' });
    expect(ofType('MachineJoined').map((e) => e.data.machine).sort()).toEqual(['FIN-01', 'FIN-02', 'FIN-03']);
  });

  it('R13, R14: the run decrypted locally and re-encrypted the credentials to the new key, which alone remains after E', () => {
    const reencrypted = ofType('ConnectionReencrypted');
    expect(reencrypted).toHaveLength(1);
    expect(['FIN-01', 'FIN-02']).toContain(reencrypted[0]!.data.machine);
    const v2 = group().keys.find((k) => k.version === 2)!.thumbprint;
    expect(service.engine.connection('Invoices').ciphertexts.map((c) => c.thumbprint)).toEqual([v2]);
    expect(service.engine.connection('Invoices').needsFix).toBe(false);
  });

  it('key store files are private to their machine (mode 0600)', () => {
    for (const name of Object.keys(PASSPHRASES)) expect(statSync(keystoreOf(name)).mode & 0o777).toBe(0o600);
  });

  it('no password, passphrase, credential or private key crossed the wire', () => {
    const streams = proxy.streams();
    const traffic = Buffer.concat(streams).toString('latin1');
    // The capture saw the real conversation: joins, packages, wrapped keys, check-ins, runs, rejoin.
    for (const needle of ['/join-start', '"passwordPackage"', '"wrappedUnderPrevious"', '/check-in', '/runs/', '/password', '/rejoin', '"ciphertext"']) {
      expect(traffic, needle).toContain(needle);
    }
    expect(secrets.groupKeys.size).toBe(2);
    const found = secretsFound(streams, {
      strings: [...PASSWORDS, ...Object.values(PASSPHRASES), CREDENTIAL.username, CREDENTIAL.password, ...secrets.signingKeyStrings],
      privateKeys: [...secrets.groupKeys.values()],
    });
    expect(found).toEqual([]);
  });

  it('the service\'s tables match a simulation of the same timeline (key delivery statuses and key versions)', async () => {
    const first = (type: string, machine?: string) => events.find((e) => e.type === type && (machine === undefined || e.data.machine === machine))!.metadata.occurredAt;
    const joinAt = (machine: string) => ofType('MachineJoined').find((e) => e.data.machine === machine)!.metadata.occurredAt;
    const end = toIso(plusMinutes(at.end!, 1));
    const scenario = loadScenario({
      start: toIso(T0),
      end,
      seed: 9,
      settings: { checkInIntervalMinutes: DAY },
      groups: [{ name: 'Finance', password: PASSWORDS[0], keyValidityPeriod: VALIDITY, keyExpiryGracePeriod: GRACE }],
      machines: [
        { name: 'FIN-01', group: 'Finance', agentVersion: '2.23.116.23040', joinAt: joinAt('FIN-01'), online: [{ from: joinAt('FIN-01'), to: end }] },
        { name: 'FIN-02', group: 'Finance', agentVersion: '2.23.116.23040', joinAt: joinAt('FIN-02'), online: [{ from: joinAt('FIN-02'), to: end }] },
        { name: 'FIN-03', group: 'Finance', agentVersion: '2.23.116.23040', joinAt: joinAt('FIN-03'), online: [{ from: joinAt('FIN-03'), to: toIso(at.killed!) }, { from: toIso(at.restarted!), to: end }] },
      ],
      connections: [{ name: 'Invoices', group: 'Finance', createAt: first('ConnectionCreated'), username: CREDENTIAL.username, password: CREDENTIAL.password, runAt: [first('ConnectionRun')] }],
      actions: [
        { at: first('GroupPasswordRegenerated'), do: 'regeneratePassword', machine: 'FIN-01', newPassword: PASSWORDS[1] },
        { at: first('MachineRejoined'), do: 'rejoin', machine: 'FIN-03', password: PASSWORDS[1] },
      ],
    });
    const simulated = createInMemoryEventStore();
    const result = await simulate(scenario, { store: simulated, keys: pooledKeyPairSource({ size: 4 }) });
    expect(result.rejected).toEqual([]);

    const view = async (store: EventStore, asOf?: Instant) => {
      const log = await store.readAll(1, 1_000_000);
      const version = new Map(log.filter((e) => e.type === 'KeyIssued').map((e) => [e.data.thumbprint as string, e.data.version as number]));
      const versions = (thumbprints: unknown) => thumbprints === null ? null : String(thumbprints).split(',').filter(Boolean).map((t) => version.get(t)).sort();
      const { tables } = await tablesAt(store, asOf === undefined ? {} : { asOf });
      return {
        groups: tables.flowmachinegroups.map((g) => ({ name: g.name, primary: versions(g.primarypublickey), secondary: versions(g.secondarypublickey), statecode: g.statecode, statuscode: g.statuscode, renewal: g.rekey_renewalstate })),
        machines: tables.flowmachines.map((m) => ({ name: m.name, keydeliverystatus: m.keydeliverystatus, statecode: m.statecode, statuscode: m.statuscode })),
        connections: tables.desktopflowconnections.map((c) => ({ name: c.name, status: c.status, keys: versions(c.keythumbprints) })),
      };
    };
    // Just after the window closed: FIN-03 KeyExpired, the others on key 2, the connection on key 2 only.
    const afterExpiry = plusMinutes(at.expiry!, DAY);
    const [serviceAfterExpiry, simulatedAfterExpiry] = [await view(service.store, afterExpiry), await view(simulated, afterExpiry)];
    expect(serviceAfterExpiry).toEqual(simulatedAfterExpiry);
    expect(serviceAfterExpiry.machines.map((m) => [m.name, m.keydeliverystatus])).toEqual([['FIN-01', 1], ['FIN-02', 1], ['FIN-03', 3]]);
    // At the end: everyone Default on key 2.
    const [serviceAtEnd, simulatedAtEnd] = [await view(service.store), await view(simulated)];
    expect(serviceAtEnd).toEqual(simulatedAtEnd);
    expect(serviceAtEnd.machines.map((m) => [m.name, m.keydeliverystatus])).toEqual([['FIN-01', 1], ['FIN-02', 1], ['FIN-03', 1]]);
    expect(serviceAtEnd.groups).toEqual([{ name: 'Finance', primary: [2], secondary: null, statecode: 0, statuscode: 1, renewal: 'None' }]);
    await simulated.close();
  });
});
