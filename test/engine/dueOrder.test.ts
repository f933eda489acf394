/**
 * The scheduler takes due times in instant order across all groups (docs/reliability.md, finding
 * 1): when the due times of several groups fall between two commands, the log records them earliest
 * first, whichever group they belong to, and the connections' follow-up of a retirement is stamped
 * at that retirement's instant E (R14, R15), not when the engine looked.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConnection } from '../../src/engine/portal.js';
import type { RecordedEvent } from '../../src/store/port.js';
import { day, iso, openWorld, type World } from '../projections/support/world.js';

describe('due times of different groups, recorded in instant order', () => {
  let world: World;
  let caughtUp: RecordedEvent[];
  beforeAll(async () => {
    world = await openWorld();
    const { engine } = world;
    // A: key 1 at day 0, S = day 45, E = day 90. B: key 1 at day 1, S = day 46, E = day 91.
    await engine.createGroup({ name: 'A', keyValidityPeriod: 129_600, keyExpiryGracePeriod: 64_800 });
    await world.agent('A1').join('A', 'pw-A-secret');
    await world.at(day(1));
    await engine.createGroup({ name: 'B', keyValidityPeriod: 129_600, keyExpiryGracePeriod: 64_800 });
    await world.agent('B1').join('B', 'pw-B-secret');
    await world.at(day(45));
    await world.agent('A1').checkIn(); // R11: key 2 of A, c = day 45, so its own S is day 90
    await createConnection(engine, 'Payroll', { type: 'group', name: 'A' }, { username: 'CONTOSO\\svc', password: 'cred-secret' });
    const before = await world.head();
    await world.at(day(100)); // nothing happens in between: one scheduler pass catches up
    caughtUp = await world.store.readAll(before + 1, 1000);
  }, 60_000);
  afterAll(() => world?.close());

  it('records every group\'s due times earliest first, across groups', () => {
    const seen = caughtUp.map((e) => `${e.metadata.occurredAt} ${e.stream.startsWith('group-') ? world.engine.fleet.groups.get(e.stream)!.state.name : 'connection'} ${e.type}`);
    expect(seen).toEqual([
      `${iso(day(46))} B RenewalStarted`,
      `${iso(day(90))} A KeyExpired`,
      `${iso(day(90))} A RenewalStarted`,
      `${iso(day(90))} connection ConnectionCiphertextDropped`,
      `${iso(day(91))} B KeyExpired`,
      `${iso(day(91))} B MachineKeyExpired`,
      `${iso(day(91))} B GroupKeyExpired`,
    ]);
  });

  it('R14: the ciphertext for the retired key is dropped at E, the retirement\'s own instant', () => {
    const retired = caughtUp.find((e) => e.type === 'KeyExpired' && world.engine.fleet.groups.get(e.stream)!.state.name === 'A')!;
    const dropped = caughtUp.find((e) => e.type === 'ConnectionCiphertextDropped')!;
    expect(dropped.data.keyThumbprint).toBe(retired.data.keyThumbprint);
    expect(dropped.metadata.occurredAt).toBe(retired.metadata.occurredAt);
    expect(world.engine.connection('Payroll').needsFix).toBe(false);
  });
});
