/**
 * Comparing and trimming a group's state for the fold: whether the renewal schedule or anything but
 * the members changed (so unchanged rows are not rendered again), and dropping retired keys no row
 * reads (so snapshots do not grow with every renewal).
 */
import { initialGroupState, type GroupState } from '../../src/domain/group/state.js';

/** Whether two states of a group have the same renewal schedule inputs (references: evolve copies only what changes). */
export function sameSchedule(a: GroupState, b: GroupState): boolean {
  return a === b || (a.lifecycle === b.lifecycle && a.keys === b.keys && a.primaryVersion === b.primaryVersion &&
    a.renewal === b.renewal && a.effective === b.effective && a.effectiveSince === b.effectiveSince && a.pendingChanges === b.pendingChanges &&
    a.lastWindowEndedAt === b.lastWindowEndedAt);
}

/**
 * The group row reads no member: when nothing but the members changed, it cannot have changed.
 * Compiled once from the fields of `initialGroupState` (evolve always returns a full state), so a
 * field added to the state is compared too, with plain property reads.
 */
export const onlyMembersDiffer = new Function(
  'a',
  'b',
  `return ${Object.keys(initialGroupState).filter((key) => key !== 'members').map((key) => `a[${JSON.stringify(key)}] === b[${JSON.stringify(key)}]`).join(' && ')};`,
) as (a: GroupState, b: GroupState) => boolean;

/**
 * A group's state keeps every key it ever had; a retired key that is not the primary is never read
 * again (no column shows it, joins and rejoins present the primary, renewals and their retirement
 * concern live keys), yet it would make every snapshot grow with every renewal. The projection's copy
 * drops them; the property test checks that the tables are the same without this.
 */
export function compactKeys(state: GroupState): GroupState {
  if (!state.keys.some((key) => key.retired && key.version !== state.primaryVersion)) return state;
  return { ...state, keys: state.keys.filter((key) => !key.retired || key.version === state.primaryVersion) };
}
