/**
 * How `evolveGroup` writes one member into, or out of, a group's members record: the data structure,
 * never a rule (the rules live in evolve.ts alone).
 *
 * - `copyOnWrite` (the default): a new record, every earlier state left as it was. Deciders, the
 *   engine and anything that keeps earlier states need this. A member event costs a copy of every
 *   member: O(members).
 * - `inPlace`: the record itself is written, so a member event costs O(1) however large the group.
 *   Only for a fold that owns every state it holds and reads no earlier state's members after the
 *   next event (the projection, which takes what it compares against before folding). A frozen
 *   record (`initialGroupState`'s) is never written: it is copied first, so the shared initial state
 *   stays empty.
 *
 * Events that change every member (a renewal starting, a key expiring, deletion, import) build a new
 * record in both modes: they are O(members) by nature.
 */
import type { Member } from './state.js';

export type Members = Readonly<Record<string, Member>>;

export interface MemberWrites {
  /** `members` with `member` under `name` (added or replaced). */
  put(members: Members, name: string, member: Member): Members;
  /** `members` without `name` (unchanged when it is not there). */
  remove(members: Members, name: string): Members;
}

export const copyOnWrite: MemberWrites = {
  put: (members, name, member) => ({ ...members, [name]: member }),
  remove(members, name) {
    if (!Object.hasOwn(members, name)) return members;
    const { [name]: _left, ...rest } = members;
    return rest;
  },
};

export const inPlace: MemberWrites = {
  put(members, name, member) {
    const owned = (Object.isFrozen(members) ? { ...members } : members) as Record<string, Member>;
    owned[name] = member;
    return owned;
  },
  remove(members, name) {
    if (!Object.hasOwn(members, name)) return members;
    if (Object.isFrozen(members)) return copyOnWrite.remove(members, name);
    delete (members as Record<string, Member>)[name];
    return members;
  },
};
