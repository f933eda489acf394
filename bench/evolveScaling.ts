/**
 * Is evolve O(1) per member event? The same 5,000 connect/disconnect events folded into a group of 10 and
 * of 1,000 members, with the default copy-on-write record and with the in-place record the projection
 * uses (src/domain/group/memberWrites.ts). growth = time per event at 1,000 members / at 10: about 1
 * means O(1); copy-on-write grows with the group, since every member event copies the record.
 */
import type { GroupEvent, Timed } from '../src/domain/events.js';
import { evolveGroup } from '../src/domain/group/evolve.js';
import { copyOnWrite, inPlace, type MemberWrites } from '../src/domain/group/memberWrites.js';
import { initialGroupState, type GroupState } from '../src/domain/group/state.js';

const AT = Date.UTC(2026, 0, 1);

function groupOf(members: number, writes: MemberWrites): GroupState {
  let state = evolveGroup(initialGroupState, { type: 'GroupCreated', at: AT, data: { groupId: 'g', name: 'G', keyValidityPeriod: 129_600, keyExpiryGracePeriod: 64_800, proactiveReencryption: false, createdAt: new Date(AT).toISOString() } }, writes);
  for (let m = 0; m < members; m++) {
    const event = { type: 'MachineJoined', at: AT, data: { machineId: `id-${m}`, machine: `M${m}`, agentVersion: '2.23.116.23040', status: 1, keyThumbprints: [] } } as unknown as Timed<GroupEvent>;
    state = evolveGroup(state, event, writes);
  }
  return state;
}

/** Microseconds per event, best of three passes. */
function microsPerEvent(members: number, writes: MemberWrites, events: number): number {
  let state = groupOf(members, writes);
  const folds: Timed<GroupEvent>[] = Array.from({ length: events }, (_, i) => {
    const machine = `M${(i * 7919) % members}`;
    return (i % 2 === 0
      ? { type: 'MachineConnected', at: AT + i, data: { machine, checkInIntervalMinutes: 1440 } }
      : { type: 'MachineDisconnected', at: AT + i, data: { machine } }) as Timed<GroupEvent>;
  });
  let best = Infinity;
  for (let pass = 0; pass < 3; pass++) {
    const started = performance.now();
    for (const event of folds) state = evolveGroup(state, event, writes);
    best = Math.min(best, performance.now() - started);
  }
  return (best * 1000) / events;
}

export function benchEvolveScaling(events = 5_000) {
  const result: Record<string, number> = {};
  for (const [name, writes] of [['inPlace', inPlace], ['copyOnWrite', copyOnWrite]] as const) {
    const small = microsPerEvent(10, writes, events);
    // Copying 1,000 members per event is slow enough that fewer events tell the same.
    const large = microsPerEvent(1_000, writes, writes === copyOnWrite ? Math.min(events, 300) : events);
    result[`${name}_us_per_event_10_members`] = Math.round(small * 1000) / 1000;
    result[`${name}_us_per_event_1000_members`] = Math.round(large * 1000) / 1000;
    result[`${name}_growth`] = Math.round((large / small) * 100) / 100;
  }
  return Promise.resolve(result);
}
