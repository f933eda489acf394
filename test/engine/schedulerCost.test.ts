/**
 * What the scheduler costs a command (issue 18: commands fell from about 800/s to 160/s at 8,000
 * groups, because every command began with a walk over every group to find the due ones). On 2,003
 * groups, 3 of them with a key and a renewal ahead, the engine's walks over its groups are counted:
 * - A command when nothing is due looks at no group at all and walks the groups not once.
 * - When the renewal start of the 3 keyed groups has passed, the next command looks at exactly
 *   those 3, records their RenewalStarted at the instant each fell due, and still walks nobody else.
 * (Correctness of the due times themselves is the business of the domain and crash tests.)
 */
import { describe, expect, it } from 'vitest';
import { inlineKeyPairSource } from '../../src/crypto/index.js';
import { manualClock, parseInstant, plusMinutes, toIso } from '../../src/domain/time.js';
import { MachineAgent } from '../../src/engine/agent.js';
import { Engine } from '../../src/engine/engine.js';
import { seededIds } from '../../src/engine/ids.js';
import { createInMemoryEventStore } from '../../src/store/memory.js';

const T0 = parseInstant('2030-01-01T00:00:00Z');
const VALIDITY = 129_600;
const GRACE = 64_800;

/** Counts every walk over a Map (iteration, entries, keys, values, forEach) from now on. */
function countWalks(map: Map<unknown, unknown>): () => number {
  let walks = 0;
  for (const method of [Symbol.iterator, 'entries', 'keys', 'values', 'forEach'] as const) {
    const original = (map as unknown as Record<PropertyKey, (...args: unknown[]) => unknown>)[method]!.bind(map);
    Object.defineProperty(map, method, {
      value: (...args: unknown[]) => {
        walks++;
        return original(...args);
      },
    });
  }
  return () => walks;
}

describe('the scheduler inside every command', () => {
  it('looks at the due groups only: none when nothing is due, exactly the due ones when some are', async () => {
    const store = createInMemoryEventStore();
    const clock = manualClock(T0);
    const engine = await Engine.open({ store, clock, ids: seededIds(18) });
    const keys = inlineKeyPairSource();
    for (let i = 0; i < 3; i++) {
      await engine.createGroup({ name: `Keyed-${i}`, keyValidityPeriod: VALIDITY, keyExpiryGracePeriod: GRACE });
      await new MachineAgent({ engine, machineId: `m-${i}`, name: `KEYED-0${i}`, agentVersion: '2.23.116.23040', keys }).join(`Keyed-${i}`, `pw-${i}`);
    }
    for (let i = 0; i < 2_000; i++) await engine.createGroup({ name: `Group-${i}` });
    expect(engine.fleet.groups.size).toBe(2_003);

    const walks = countWalks(engine.fleet.groups);
    for (let k = 0; k < 20; k++) {
      await engine.setProactiveReencryption(`Group-${k * 97}`, true);
      expect(engine.lastPassExamined).toBe(0);
    }
    expect(walks()).toBe(0);

    const renewalStart = plusMinutes(T0, VALIDITY - GRACE);
    clock.set(plusMinutes(renewalStart, 60));
    const head = await store.headPosition();
    await engine.setProactiveReencryption('Group-1', true);
    expect(engine.lastPassExamined).toBe(3);
    const recorded = await store.readAll(head + 1);
    const started = recorded.filter((event) => event.type === 'RenewalStarted');
    expect(started.map((event) => event.metadata.occurredAt)).toEqual([toIso(renewalStart), toIso(renewalStart), toIso(renewalStart)]);
    expect(new Set(started.map((event) => event.stream)).size).toBe(3);
    expect(walks()).toBe(0);

    await engine.setProactiveReencryption('Group-2', true);
    expect(engine.lastPassExamined).toBe(0); // recorded once, not due again
  }, 60_000);
});
