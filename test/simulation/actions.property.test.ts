/**
 * Fleets with everything a user can do to them (settings changes, in and out of range; password
 * regenerations; rejoins with right, stale and wrong passwords; machines added, removed, updated;
 * connections run and fixed; proactive re-encryption; deletion), checked for the invariants that
 * hold whatever happens. The window times are recomputed here from the log's own facts with the
 * formula of R3/R5 (docs/model.md), independently of the engine's scheduler.
 * Replay a failure with FC_SEED=<seed> FC_PATH=<path> npx vitest run test/simulation/actions.property.test.ts
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { pooledKeyPairSource } from '../../src/crypto/index.js';
import { MS_PER_MINUTE, parseInstant } from '../../src/domain/time.js';
import { Engine } from '../../src/engine/engine.js';
import { seededIds } from '../../src/engine/ids.js';
import type { Scenario, ScenarioAction } from '../../src/simulation/scenario.js';
import { simulate } from '../../src/simulation/simulator.js';
import { createInMemoryEventStore } from '../../src/store/memory.js';
import type { RecordedEvent } from '../../src/store/port.js';
import { expectLogInvariants } from './logInvariants.js';

const MINUTE = MS_PER_MINUTE;
const START = parseInstant('2026-01-01T00:00:00Z');
const YEAR = 525_600 * MINUTE;
const RUNS = Number(process.env.FC_RUNS_ACTIONS ?? process.env.FC_RUNS ?? 200);
const keys = pooledKeyPairSource({ size: 6, recycle: true });
const PASSWORDS = ['pw-Initial', 'pw-Second', 'pw-Third'];
const MACHINES = ['M0', 'M1', 'M2', 'M3'];

const scenarioArbitrary: fc.Arbitrary<Scenario> = fc.integer({ min: 5, max: 12 }).chain((years) => {
  const end = START + years * YEAR;
  const instant = fc.integer({ min: START / MINUTE, max: end / MINUTE - 1 }).map((m) => m * MINUTE);
  const minutes = fc.oneof(fc.constantFrom(64_799, 64_800, 129_600, 129_599, 259_200, 525_600, 1_314_000, 2_628_000, 2_628_001), fc.integer({ min: 60_000, max: 2_700_000 }));
  const machine = fc.constantFrom(...MACHINES);
  const action: fc.Arbitrary<Omit<ScenarioAction, 'index'>> = fc.oneof(
    fc.record({ at: instant, do: fc.constant('setKeyExpiryGracePeriod' as const), group: fc.constant('G'), minutes }),
    fc.record({ at: instant, do: fc.constant('setKeyValidityPeriod' as const), group: fc.constant('G'), minutes }),
    fc.record({ at: instant, do: fc.constant('setProactiveReencryption' as const), group: fc.constant('G'), enabled: fc.boolean() }),
    fc.record({ at: instant, do: fc.constant('regeneratePassword' as const), machine, newPassword: fc.constantFrom(...PASSWORDS) }),
    fc.record({ at: instant, do: fc.constant('rejoin' as const), machine, password: fc.constantFrom(...PASSWORDS, 'wrong') }),
    fc.record({ at: instant, do: fc.constant('addMachine' as const), machine, password: fc.constantFrom(...PASSWORDS) }),
    fc.record({ at: instant, do: fc.constant('removeMachine' as const), machine }),
    fc.record({ at: instant, do: fc.constant('updateAgent' as const), machine, agentVersion: fc.constantFrom('2.21', '2.23.1', '2.30.0.0') }),
    fc.record({ at: instant, do: fc.constant('runConnection' as const), connection: fc.constant('C') }),
    fc.record({ at: instant, do: fc.constant('fixConnection' as const), connection: fc.constant('C'), password: fc.constant('cred-secret-fixed') }),
    fc.record({ at: instant, do: fc.constant('deleteGroup' as const), group: fc.constant('G') }),
  ) as fc.Arbitrary<Omit<ScenarioAction, 'index'>>;
  const onlineOf = fc.uniqueArray(instant, { maxLength: 6 }).map((edges) => {
    const sorted = [...edges].sort((a, b) => a - b);
    const intervals = [];
    for (let j = 0; j + 1 < sorted.length; j += 2) intervals.push({ from: sorted[j]!, to: sorted[j + 1]! });
    return intervals;
  });
  return fc.record({
    validity: fc.constantFrom(129_600, 525_600, 2_628_000),
    online: fc.tuple(...MACHINES.map(() => onlineOf)),
    joins: fc.tuple(...MACHINES.map((_, i) => (i === 0 ? fc.constant(START) : fc.option(instant, { nil: null })))),
    actions: fc.array(action, { maxLength: 12 }),
    proactive: fc.boolean(),
    runEvery: fc.constantFrom(null, 20_160, 86_400),
  }).map((r): Scenario => ({
    start: START,
    end,
    seed: 5,
    settings: { pickupDelayMinutes: 1440, checkInIntervalMinutes: 1440 },
    groups: [{ name: 'G', password: PASSWORDS[0]!, keyValidityPeriod: r.validity, keyExpiryGracePeriod: 64_800, proactiveReencryption: r.proactive }],
    machines: MACHINES.map((name, i) => ({ name, group: 'G', agentVersion: i === 3 ? '2.21' : '2.23.116.23040', joinAt: r.joins[i]!, online: r.online[i]! })),
    connections: [{ name: 'C', target: { type: 'group', name: 'G' }, createAt: START + 10 * MINUTE, username: 'CONTOSO\\svc', password: 'cred-secret-pw', runEveryMinutes: r.runEvery, runAt: [] }],
    actions: [...r.actions].sort((a, b) => a.at - b.at).map((a, index) => ({ ...a, index }) as ScenarioAction),
  }));
});

const at = (e: RecordedEvent) => Date.parse(e.metadata.occurredAt);

/**
 * Fleets run before the random ones, drawn from the same arbitrary with fixed seeds: a rejoin that
 * succeeds (MachineRejoined) needs a machine whose key expired, then a rejoin of it, online, with
 * the password of the moment, and only 1 to 3 random fleets in 200 get there (none in about one run
 * of six). These three do (checked by the coverage below; a fast-check that draws differently would
 * make that fail every time, never now and then: pick new seeds then).
 */
const EXAMPLES: [Scenario][] = [[20, 0], [20, 4], [23, 7]].map(([seed, index]) => [fc.sample(scenarioArbitrary, { seed: seed!, numRuns: index! + 1 })[index!]!]);

/** How often the generated fleets reached each interesting fact: a suite that never renews proves little. */
const reached = new Map<string, number>();

async function checkScenario(scenario: Scenario): Promise<void> {
  const store = createInMemoryEventStore();
  const result = await simulate(scenario, { store, keys });
  const events = await store.readAll(1, 10_000_000);
  for (const type of new Set(events.map((e) => e.type))) reached.set(type, (reached.get(type) ?? 0) + 1);
  checkWindows(events);

  // Refusals are reported with a code and a message, never thrown.
  for (const r of result.rejected) {
    expect(r.code).toMatch(/^[A-Z_]+$/);
    expect(r.message.length).toBeGreaterThan(10);
  }
  expectLogInvariants(events, [...PASSWORDS, 'cred-secret-pw', 'cred-secret-fixed']);
  // A replay of the log gives the same state.
  const replayed = await Engine.open({ store, clock: { now: () => scenario.end }, ids: seededIds(0) });
  expect([...replayed.fleet.groups.values()].map((s) => s.state)).toEqual([...result.engine.fleet.groups.values()].map((s) => s.state));
  expect([...replayed.fleet.connections.values()].map((s) => s.state)).toEqual([...result.engine.fleet.connections.values()].map((s) => s.state));
}

/**
 * R3/R5 recomputed from the log: S = max(c + min(v_key, v) - g, pickup, end of the previous window),
 * E = min(c + v_key, S + g).
 */
function checkWindows(events: RecordedEvent[]): void {
  let settings = { v: 0, g: 0, since: 0 };
  const keysByVersion = new Map<number, { c: number; v: number }>();
  let window: { e: number; oldVersion: number; issued: boolean } | null = null;
  let lastWindowEnd = 0;
  // Deleting a group retires its keys at once (R19): those retirements are not window ends.
  const deletions = new Set(events.filter((e) => e.type === 'GroupDeleted').map((e) => e.metadata.commandId));
  for (const e of events.filter((x) => x.stream.startsWith('group-') && !(x.type === 'KeyExpired' && deletions.has(x.metadata.commandId)))) {
    const d = e.data as Record<string, number>;
    if (e.type === 'GroupCreated') settings = { v: d.keyValidityPeriod!, g: d.keyExpiryGracePeriod!, since: at(e) };
    if (e.type === 'SettingsPickedUp') settings = { v: d.keyValidityPeriod!, g: d.keyExpiryGracePeriod!, since: at(e) };
    if (e.type === 'KeyIssued') {
      keysByVersion.set(d.version!, { c: Date.parse(String(e.data.createdAt)), v: d.validityMinutes! });
      if (window) {
        expect(window.issued, 'at most one new key per renewal').toBe(false);
        window.issued = true;
      }
    }
    if (e.type === 'RenewalStarted') {
      const key = keysByVersion.get(d.keyVersion!)!;
      const start = Math.max(key.c + (Math.min(key.v, settings.v) - settings.g) * MINUTE, settings.since, lastWindowEnd);
      expect(at(e), 'renewal starts exactly at S').toBe(start);
      const end = Math.min(key.c + key.v * MINUTE, start + settings.g * MINUTE);
      expect(Date.parse(String(e.data.endsAt)), 'the window ends at E').toBe(end);
      window = { e: end, oldVersion: d.keyVersion!, issued: false };
    }
    if (e.type === 'KeyExpired' && window && d.keyVersion === window.oldVersion) {
      expect(at(e), 'the old key retires exactly at E, never early').toBe(window.e);
      lastWindowEnd = window.e;
      window = null;
    }
    if (e.type === 'GroupDeleted' || e.type === 'GroupKeyExpired') window = null;
  }
}

describe('invariants under every user action (fast-check, real engine)', () => {
  beforeAll(() => keys.ready(), 60_000);

  it(`R2-R5, R11, R13, R17: ${RUNS} fleets with random actions keep exact windows, one key per renewal, live-key runs, a contiguous secret-free log that replays`, async () => {
    await fc.assert(fc.asyncProperty(scenarioArbitrary, checkScenario), {
      numRuns: RUNS,
      examples: EXAMPLES,
      seed: process.env.FC_SEED === undefined ? undefined : Number(process.env.FC_SEED),
      path: process.env.FC_PATH,
    });
    if (RUNS >= 100) {
      expect(reached.get('MachineRejoined') ?? 0, 'the fixed fleets rejoin').toBeGreaterThanOrEqual(EXAMPLES.length);
      for (const type of ['RenewalStarted', 'KeyIssued', 'SettingsPickedUp', 'GroupPasswordRegenerated', 'MachineRejoined', 'MachineKeyExpired', 'GroupKeyExpired', 'ConnectionReencrypted', 'ConnectionNeedsFix', 'ConnectionFixed', 'GroupDeleted']) {
        expect(reached.get(type) ?? 0, `fleets that reached ${type}`).toBeGreaterThan(0);
      }
    }
  }, 900_000);
});
