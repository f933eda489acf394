import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  canonicalJson, eventHash, eventHashFromJson, GENESIS_HASH, verifyChain, type StoredChainLink,
} from '../../src/store/hashChain.js';

/**
 * The reference: JSON.stringify of a deep copy whose objects have their keys inserted in sorted
 * order (valid only without integer-like keys, which every engine enumerates first).
 */
function sortDeep(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortDeep);
  if (value !== null && typeof value === 'object') {
    // fromEntries defines own properties: a key "__proto__" stays a key (assignment would set the prototype).
    return Object.fromEntries(Object.keys(value).sort().map((key) => [key, sortDeep((value as Record<string, unknown>)[key])]));
  }
  return value;
}

const hasIntegerKey = (value: unknown): boolean =>
  value !== null && typeof value === 'object' &&
  (Object.keys(value).some((k) => /^(0|[1-9]\d*)$/.test(k)) || Object.values(value).some(hasIntegerKey));

describe('canonicalJson', () => {
  it('is JSON.stringify with sorted keys', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        fc.pre(!hasIntegerKey(value));
        expect(canonicalJson(value)).toBe(JSON.stringify(sortDeep(value)));
      }),
      { numRuns: 500 },
    );
  });

  it('is stable through a parse, whatever the key order', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = canonicalJson(value);
        expect(canonicalJson(JSON.parse(text))).toBe(text);
      }),
      { numRuns: 500 },
    );
  });

  it('sorts by UTF-16 code units, integer-like keys included, and escapes keys', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } })).toBe('{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}');
    expect(canonicalJson({ 10: 'x', 9: 'y', a: 1 })).toBe('{"10":"x","9":"y","a":1}');
    expect(canonicalJson({ 'é': 1, z: 2, 'a"b': 3, '\n': 4 })).toBe('{"\\n":4,"a\\"b":3,"z":2,"é":1}');
  });

  it('follows JSON.stringify for undefined, non-finite numbers, -0 and toJSON', () => {
    expect(canonicalJson({ a: undefined, b: [undefined, NaN, Infinity, -0], c: () => 1 })).toBe('{"b":[null,null,null,0]}');
    expect(canonicalJson({ at: new Date('2030-01-01T00:00:00Z') })).toBe('{"at":"2030-01-01T00:00:00.000Z"}');
    expect(() => canonicalJson({ n: 1n })).toThrow(TypeError);
  });
});

describe('eventHash', () => {
  const fields = { stream: 'group-1', revision: 0, position: 1, type: 'GroupCreated', data: { b: 1, a: 'x' }, metadata: { occurredAt: 't', commandId: 'c', correlationId: 'k' } };

  it('is SHA-256 over the previous hash and the canonical fields', () => {
    const expected = createHash('sha256')
      .update(GENESIS_HASH + canonicalJson(fields))
      .digest('hex');
    expect(eventHash(GENESIS_HASH, fields)).toBe(expected);
    expect(GENESIS_HASH).toBe('0'.repeat(64));
    expect(eventHashFromJson(GENESIS_HASH, { ...fields, dataJson: canonicalJson(fields.data), metadataJson: canonicalJson(fields.metadata) })).toBe(expected);
  });

  it('changes with every covered field and with the previous hash', () => {
    const base = eventHash(GENESIS_HASH, fields);
    for (const change of [{ stream: 'group-2' }, { revision: 1 }, { position: 2 }, { type: 'X' }, { data: { b: 2, a: 'x' } }, { metadata: { ...fields.metadata, extra: 1 } }]) {
      expect(eventHash(GENESIS_HASH, { ...fields, ...change })).not.toBe(base);
    }
    expect(eventHash('1'.repeat(64), fields)).not.toBe(base);
  });
});

describe('verifyChain', () => {
  const chain = (n: number): StoredChainLink[] => {
    const links: StoredChainLink[] = [];
    let previous = GENESIS_HASH;
    for (let position = 1; position <= n; position++) {
      const link = { stream: `s${position % 2}`, revision: position >> 1, position, type: 'E', dataJson: `{"n":${position}}`, metadataJson: '{}' };
      previous = eventHashFromJson(previous, link);
      links.push({ ...link, hash: previous });
    }
    return links;
  };

  it('accepts single events, pages, and async iterables', async () => {
    const links = chain(7);
    const head = links[6]!.hash;
    expect(await verifyChain(links)).toEqual({ ok: true, checked: 7, headHash: head, headPosition: 7 });
    expect(await verifyChain([links.slice(0, 3), links.slice(3)])).toMatchObject({ ok: true, checked: 7 });
    async function* pages() {
      yield links.slice(0, 4);
      yield* links.slice(4);
    }
    expect(await verifyChain(pages(), { expectHead: head })).toMatchObject({ ok: true, checked: 7, headHash: head });
    expect(await verifyChain([])).toEqual({ ok: true, checked: 0, headHash: GENESIS_HASH, headPosition: 0 });
  });

  it('reports the first tampered, missing or misplaced event', async () => {
    const links = chain(6);
    const tampered = links.map((l) => (l.position === 4 ? { ...l, dataJson: '{"n":40}' } : l));
    expect(await verifyChain(tampered)).toMatchObject({ ok: false, position: 4, reason: 'tampered', checked: 3 });
    expect(await verifyChain(links.filter((l) => l.position !== 1))).toMatchObject({ ok: false, position: 1, reason: 'missing' });
    expect(await verifyChain([...links.slice(0, 3), links[2]!, ...links.slice(3)])).toMatchObject({ ok: false, position: 4, reason: 'tampered' });
    expect(await verifyChain(links.slice(0, 5), { expectHead: links[5]!.hash })).toMatchObject({ ok: false, position: 6, reason: 'missing', checked: 5 });
    expect(await verifyChain(links, { expectHead: 'f'.repeat(64) })).toMatchObject({ ok: false, position: 7, reason: 'missing' });
  });

  it('verifies a tail from a known position and hash', async () => {
    const links = chain(6);
    expect(await verifyChain(links.slice(3), { fromPosition: 4, previousHash: links[2]!.hash })).toMatchObject({ ok: true, checked: 3 });
    expect(await verifyChain(links.slice(3), { fromPosition: 4, previousHash: links[1]!.hash })).toMatchObject({ ok: false, position: 4, reason: 'tampered' });
  });
});
