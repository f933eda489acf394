import { describe, expect, it } from 'vitest';
import { packObjects, unpackObjects } from '../../projections/projection/packedObjects.js';

// Snapshots pack their lists of same-shaped objects; restoring one must give back exactly what was
// packed (keys, their order, values), or the as-of tables would drift from a replay.
describe('packed objects (snapshot lists)', () => {
  const same = (list: object[]) => JSON.stringify(unpackObjects(JSON.parse(JSON.stringify(packObjects(list))))) === JSON.stringify(list);

  it('writes the keys once and gives back the same objects, key order included', () => {
    const list = [{ a: 1, b: 'x', c: null, d: [1, 2], e: { f: true } }, { a: 2, b: 'y', c: 3, d: [], e: { f: false } }];
    const packed = packObjects(list);
    expect(packed).toEqual({ keys: ['a', 'b', 'c', 'd', 'e'], rows: [[1, 'x', null, [1, 2], { f: true }], [2, 'y', 3, [], { f: false }]] });
    expect(unpackObjects(packed)).toEqual(list);
    expect(same(list)).toBe(true);
  });

  it.each([
    ['another key order', [{ a: 1, b: 2 }, { b: 2, a: 1 }]],
    ['a key fewer', [{ a: 1, b: 2 }, { a: 1 }]],
    ['a key more', [{ a: 1 }, { a: 1, b: 2 }]],
    ['an undefined value (JSON drops it from an object)', [{ a: 1, b: 2 }, { a: 1, b: undefined }]],
    ['a __proto__ key (an object literal would set the prototype)', [JSON.parse('{"__proto__": 1, "a": 2}') as object]],
  ])('keeps the objects as they are when they differ: %s', (_why, list: object[]) => {
    expect(packObjects(list)).toEqual({ objects: list });
    expect(same(list)).toBe(true);
  });

  it('keeps an empty list', () => {
    expect(unpackObjects(packObjects([]))).toEqual([]);
  });
});

describe('a snapshot with packed lists', () => {
  it('gives back a group whose member is named __proto__ as a member', async () => {
    const { Projection } = await import('../../projections/projection.js');
    // The snapshot form is the projection's own: restore a state in which a member has that name.
    const state = JSON.parse(new Projection().serialize()) as { groups: { streams: string[]; states: unknown; members: unknown[] } };
    state.groups = {
      streams: ['group-g1'],
      states: { objects: [{ groupId: 'g1', name: 'G', members: null }] },
      members: [{ names: ['__proto__'], members: { objects: [{ machineId: 'm1', name: '__proto__' }] } }],
    };
    const restored = Projection.restore(JSON.stringify(state));
    const again = JSON.parse(restored.serialize()) as { groups: { members: { names: string[] }[] } };
    expect(again.groups.members[0]!.names).toEqual(['__proto__']);
  });
});
