/**
 * The renewal guarantees, checked on the real engine and agents over generated fleets spanning 5 to
 * 25 years, against the independent model in model.ts: the events, and every table row the admin
 * reads (status, keyreceiveddate, lastheartbeatdate, the next renewal date) at instants aimed at
 * the boundaries (S, E, issuance, joins, rejoins, plus or minus a minute) and at random ones.
 * FC_RUNS (default 200) sets the number of fleets. A failure prints fast-check's seed and path;
 * replay it with
 *   FC_SEED=<seed> FC_PATH=<path> npx vitest run test/simulation/renewal.property.test.ts
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { pooledKeyPairSource } from '../../src/crypto/index.js';
import { MIN_GRACE_MINUTES } from '../../src/domain/periods.js';
import { MS_PER_MINUTE, parseInstant, toIso } from '../../src/domain/time.js';
import { Engine } from '../../src/engine/engine.js';
import { seededIds } from '../../src/engine/ids.js';
import type { Scenario, ScenarioMachine } from '../../src/simulation/scenario.js';
import { simulate } from '../../src/simulation/simulator.js';
import { createInMemoryEventStore } from '../../src/store/memory.js';
import type { RecordedEvent } from '../../src/store/port.js';
import { Projection, type Row } from '../../projections/index.js';
import { expectLogInvariants } from './logInvariants.js';
import { groupRowAt, machineRowAt, runModel, type ModelFleet, type ModelOutcome } from './model.js';

const MINUTE = MS_PER_MINUTE;
const START = parseInstant('2026-01-01T00:00:00Z');
const YEAR = 525_600 * MINUTE;
const RUNS = Number(process.env.FC_RUNS ?? 200);
const keys = pooledKeyPairSource({ size: 6, recycle: true });

/** An instant to read the tables at: near an anchor of the model's story, or anywhere. */
interface Probe {
  readonly anchor: number;
  readonly offsetMinutes: -1 | 0 | 1;
  readonly uniform: number | null;
}

interface Fleet {
  scenario: Scenario;
  model: ModelFleet;
  probes: readonly Probe[];
}

const probe: fc.Arbitrary<Probe> = fc.record({
  anchor: fc.nat(),
  offsetMinutes: fc.constantFrom(-1 as const, 0 as const, 1 as const),
  uniform: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: null, freq: 3 }),
});

/** Instants aimed at the boundaries (renewal start and expiry of the first keys, plus or minus a minute) as well as uniform ones. */
function instantIn(from: number, to: number, anchors: number[]): fc.Arbitrary<number> {
  const uniform = fc.integer({ min: Math.ceil(from / MINUTE), max: Math.floor(to / MINUTE) - 1 }).map((m) => m * MINUTE);
  const aimed = fc.tuple(fc.constantFrom(...anchors), fc.constantFrom(-MINUTE, 0, MINUTE)).map(([a, d]) => Math.min(Math.max(a + d, from), to - MINUTE));
  return fc.oneof({ weight: 2, arbitrary: uniform }, { weight: 1, arbitrary: aimed });
}

const fleetArbitrary: fc.Arbitrary<Fleet> = fc
  .record({
    years: fc.integer({ min: 5, max: 25 }),
    validity: fc.constantFrom(129_600, 525_600, 1_051_200, 2_628_000),
    graceShare: fc.oneof(fc.constant(0), fc.constant(1), fc.double({ min: 0, max: 1, noNaN: true })),
    checkInMinutes: fc.constantFrom(1440, 1440, 720, 10_080),
    machineCount: fc.integer({ min: 1, max: 5 }),
  })
  .chain((base) => {
    const end = START + base.years * YEAR;
    const grace = Math.round(MIN_GRACE_MINUTES + base.graceShare * (Math.floor(base.validity / 2) - MIN_GRACE_MINUTES));
    const anchors: number[] = [];
    for (let k = 1; START + k * (base.validity - grace) * MINUTE < end && k < 40; k++) {
      anchors.push(START + k * (base.validity - grace) * MINUTE, START + ((k - 1) * (base.validity - grace) + base.validity) * MINUTE);
    }
    if (anchors.length === 0) anchors.push(START + MINUTE);
    const instant = instantIn(START, end, anchors);
    const machine = (index: number) => fc.record({
      version: fc.constantFrom('2.23.116.23040', '2.24.0.0', '2.22.5.1', '2.21'),
      joinAt: index === 0 ? fc.constant(START) : fc.option(instant, { nil: null, freq: 5 }),
      edges: fc.uniqueArray(instant, { maxLength: 8 }),
      rejoinAt: fc.oneof({ weight: 3, arbitrary: fc.constant<number[]>([]) }, { weight: 1, arbitrary: fc.uniqueArray(instant, { maxLength: 2 }) }),
    });
    return fc.record({
      machines: fc.tuple(...Array.from({ length: base.machineCount }, (_, i) => machine(i))),
      connection: fc.record({ createAt: instant, every: fc.constantFrom(null, 10_080, 43_200, 129_600), runAt: fc.array(instant, { maxLength: 3 }) }),
      probes: fc.array(probe, { minLength: 6, maxLength: 10 }),
    }).map(({ machines, connection, probes }): Fleet => {
      const specs: ScenarioMachine[] = machines.map((m, i) => {
        const edges = [...m.edges].sort((a, b) => a - b);
        const online = [];
        for (let j = 0; j + 1 < edges.length; j += 2) online.push({ from: edges[j]!, to: edges[j + 1]! });
        return { name: `M${i}`, group: 'G', agentVersion: m.version, joinAt: m.joinAt, online };
      });
      const scenario: Scenario = {
        start: START,
        end,
        seed: 1,
        settings: { pickupDelayMinutes: 1440, checkInIntervalMinutes: base.checkInMinutes },
        groups: [{ name: 'G', password: 'pw-Group-secret', keyValidityPeriod: base.validity, keyExpiryGracePeriod: grace, proactiveReencryption: false }],
        machines: specs,
        connections: [{ name: 'C', target: { type: 'group', name: 'G' }, createAt: connection.createAt, username: 'CONTOSO\\svc', password: 'cred-secret-pw', runEveryMinutes: connection.every, runAt: connection.runAt }],
        actions: machines
          .flatMap((m, i) => m.rejoinAt.map((at) => ({ at, machine: `M${i}` })))
          .sort((a, b) => a.at - b.at || a.machine.localeCompare(b.machine))
          .map(({ at, machine }, index) => ({ at, index, do: 'rejoin' as const, machine, password: 'pw-Group-secret' })),
      };
      const model: ModelFleet = {
        start: START,
        end,
        validityMs: base.validity * MINUTE,
        graceMs: grace * MINUTE,
        checkInMs: base.checkInMinutes * MINUTE,
        machines: specs.map((s, i) => ({
          name: s.name, renews: !s.agentVersion.startsWith('2.21') && !s.agentVersion.startsWith('2.22'), joinAt: s.joinAt, online: s.online, rejoinAt: machines[i]!.rejoinAt,
        })),
      };
      return { scenario, model, probes };
    });
  });

const at = (event: RecordedEvent) => Date.parse(event.metadata.occurredAt);

/** The probes as instants in [start, end], aimed at what happened in the model's story. */
function probeInstants(fleet: Fleet, expected: ModelOutcome): number[] {
  const { start, end } = fleet.scenario;
  const anchors = [
    end,
    ...expected.renewals.flatMap((r) => [r.startsAt, r.endsAt, ...(r.issuedAt === null ? [] : [r.issuedAt])]),
    ...fleet.model.machines.flatMap((m) => [...(m.joinAt === null ? [] : [m.joinAt]), ...(m.rejoinAt ?? [])]),
  ];
  const instants = fleet.probes.map((p) => {
    const at = p.uniform !== null ? start + Math.floor((p.uniform * (end - start)) / MINUTE) * MINUTE : anchors[p.anchor % anchors.length]! + p.offsetMinutes * MINUTE;
    return Math.min(Math.max(at, start), end);
  });
  return [...new Set(instants)].sort((a, b) => a - b);
}

const isoOrNull = (at: number | null) => (at === null ? null : toIso(at));

/** Every row the admin reads, at each probe, on the real projection of the log against the model. */
function expectRowsAsModel(fleet: Fleet, events: readonly RecordedEvent[], expected: ModelOutcome): void {
  const projection = new Projection();
  let next = 0;
  for (const t of probeInstants(fleet, expected)) {
    while (next < events.length && at(events[next]!) <= t) projection.apply(events[next++]!);
    const when = `as of ${toIso(t)}`;
    const machines = Object.fromEntries(projection.rows('flowmachines', t).filter((r: Row) => r.keydeliverystatus !== null).map((r: Row) => [r.name, {
      status: r.keydeliverystatus, keyreceiveddate: r.keyreceiveddate, lastheartbeatdate: r.lastheartbeatdate, statecode: r.statecode,
    }]));
    const modelled: Record<string, unknown> = {};
    for (const m of fleet.model.machines) {
      const row = machineRowAt(expected, m.name, t);
      if (row) modelled[m.name] = { status: row.status, keyreceiveddate: isoOrNull(row.keyReceivedAt), lastheartbeatdate: isoOrNull(row.lastHeartbeatAt), statecode: row.status === 3 ? 2 : 0 };
    }
    expect(machines, when).toEqual(modelled);
    const group = projection.rows('flowmachinegroups', t).find((r: Row) => r.name === 'G')!;
    const g = groupRowAt(expected, t);
    expect({ keycreationdate: group.keycreationdate, rekey_nextrenewaldate: group.rekey_nextrenewaldate, statecode: group.statecode }, when).toEqual({
      keycreationdate: isoOrNull(g.keyCreatedAt), rekey_nextrenewaldate: isoOrNull(g.nextRenewalAt), statecode: g.expired ? 1 : 0,
    });
  }
}

async function checkFleet(fleet: Fleet): Promise<void> {
  const { scenario, model } = fleet;
  const store = createInMemoryEventStore();
  const result = await simulate(scenario, { store, keys });
  const events = await store.readAll(1, 10_000_000);
  const expected = runModel(model);
  const of = (type: string) => events.filter((e) => e.type === type);

  // R10, R3: every renewal starts exactly at S, and its old key retires exactly at E, never early.
  expect(of('RenewalStarted').map((e) => toIso(at(e)))).toEqual(expected.renewals.map((r) => toIso(r.startsAt)));
  const retiredByRenewal = of('KeyExpired').map((e) => toIso(at(e)));
  expect(retiredByRenewal).toEqual(expected.renewals.filter((r) => r.retired).map((r) => toIso(r.endsAt)));

  // R11: one new key per renewal, issued by the first eligible machine to check in.
  const issued = of('KeyIssued').filter((e) => (e.data.version as number) > 1);
  expect(issued.map((e) => [toIso(at(e)), e.data.issuedBy])).toEqual(
    expected.renewals.filter((r) => r.issuedAt !== null).map((r) => [toIso(r.issuedAt!), r.issuer]),
  );
  expect(of('KeyIssued').map((e) => e.data.version)).toEqual(of('KeyIssued').map((_, i) => i + 1));

  // R12: every other eligible member that checked in between issuance and E took the key.
  expect(of('MachineKeyDelivered').map((e) => [e.data.machine, toIso(at(e))])).toEqual(
    expected.renewals.flatMap((r) => r.takers.map((t) => [t.machine, toIso(t.at)])),
  );

  // R15, R16: who ends KeyExpired, and whether the group is unusable.
  const group = result.engine.group('G');
  const statuses = Object.fromEntries(Object.values(group.members).map((m) => [m.name, m.status]));
  expect(statuses).toEqual(Object.fromEntries(expected.status));
  expect(of('GroupKeyExpired').map((e) => toIso(at(e)))).toEqual(expected.groupExpiredAt === null ? [] : [toIso(expected.groupExpiredAt)]);
  expect(group.lifecycle).toBe(expected.groupExpiredAt === null ? 'active' : 'expired');

  // R7, R16, R17: joins and rejoins refused for an expired group or a stale password (rejoins also
  // for a machine that is no member), and only those.
  expect(result.rejected.filter((r) => r.command === 'join').map((r) => r.target).sort()).toEqual([...expected.refusedJoins].sort());
  expect(result.rejected.filter((r) => r.command === 'rejoin').map((r) => `${r.at} ${r.target}`).sort()).toEqual(expected.refusedRejoins.map((r) => `${toIso(r.at)} ${r.machine}`).sort());

  // R3, R10-R12, R15, R16, R21, R22: the tables an admin reads, row by row, at the probes.
  expectRowsAsModel(fleet, events, expected);

  // R14, R15: a connection that ran on a member with both keys (or was created) after issuance never
  // needs fixing at that E; one that did none of these (proactive re-encryption off) does.
  const connectionEvents = events.filter((e) => e.stream.startsWith('connection-'));
  for (const renewal of expected.renewals.filter((r) => r.retired && r.issuedAt !== null)) {
    const created = connectionEvents.find((e) => e.type === 'ConnectionCreated');
    if (!created || at(created) >= renewal.endsAt) continue;
    const alreadyBroken = connectionEvents.some((e) => e.type === 'ConnectionNeedsFix' && at(e) < renewal.endsAt);
    if (alreadyBroken) continue;
    const refreshed = connectionEvents.some((e) => (e.type === 'ConnectionReencrypted' || e.type === 'ConnectionCreated') && at(e) >= renewal.issuedAt! && at(e) < renewal.endsAt);
    const brokeAtE = connectionEvents.some((e) => e.type === 'ConnectionNeedsFix' && at(e) === renewal.endsAt);
    expect(brokeAtE).toBe(!refreshed);
  }

  expectLogInvariants(events, ['pw-Group-secret', 'cred-secret-pw']);

  // Replaying the log gives the same state.
  const replayed = await Engine.open({ store, clock: { now: () => scenario.end }, ids: seededIds(0) });
  expect(replayed.group('G')).toEqual(group);
}

describe('renewal guarantees on generated fleets (fast-check, real engine, independent model)', () => {
  beforeAll(() => keys.ready(), 60_000);

  it(`R3, R10-R17, R21, R22: ${RUNS} fleets over 5 to 25 years agree with the model, events and every table row at boundary and random instants; runs never use retired keys; the log is contiguous, secret-free and replays`, async () => {
    await fc.assert(fc.asyncProperty(fleetArbitrary, checkFleet), {
      numRuns: RUNS,
      seed: process.env.FC_SEED === undefined ? undefined : Number(process.env.FC_SEED),
      path: process.env.FC_PATH,
    });
  }, 900_000);
});
