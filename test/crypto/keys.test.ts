import { createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateKeyPair, inlineKeyPairSource, pooledKeyPairSource, type KeyPair } from '../../src/crypto/index.js';

const spki = (key: KeyObject): string => key.export({ type: 'spki', format: 'der' }).toString('base64');

/** A real key pair: RSA-2048, e = 65537, the halves belong together and it signs. */
function expectRealRsaPair(pair: KeyPair): void {
  expect(pair.privateKey.type).toBe('private');
  expect(pair.privateKey.asymmetricKeyType).toBe('rsa');
  expect(pair.privateKey.asymmetricKeyDetails).toMatchObject({ modulusLength: 2048, publicExponent: 65537n });
  expect(spki(createPublicKey(pair.privateKey))).toBe(spki(pair.publicKey));
  const message = Buffer.from('proof');
  expect(verify('sha256', message, pair.publicKey, sign('sha256', message, pair.privateKey))).toBe(true);
}

describe('generateKeyPair', () => {
  it('makes a real RSA-2048 key pair, a different one each time', async () => {
    const [a, b] = await Promise.all([generateKeyPair(), generateKeyPair()]);
    expectRealRsaPair(a);
    expectRealRsaPair(b);
    expect(spki(a.publicKey)).not.toBe(spki(b.publicKey));
  });

  it('inline source generates a fresh key on every draw', async () => {
    const source = inlineKeyPairSource();
    const a = await source.next();
    const b = await source.next();
    expectRealRsaPair(a);
    expect(spki(a.publicKey)).not.toBe(spki(b.publicKey));
  });
});

describe('pooledKeyPairSource', () => {
  it('rejects a pool size that is not a positive integer', () => {
    expect(() => pooledKeyPairSource({ size: 0 })).toThrow(RangeError);
    expect(() => pooledKeyPairSource({ size: 1.5 })).toThrow(RangeError);
  });

  it('in recycle mode cycles through `size` real, distinct keys forever', async () => {
    const source = pooledKeyPairSource({ size: 3, recycle: true });
    await source.ready();
    const draws: KeyPair[] = [];
    for (let i = 0; i < 10; i++) draws.push(await source.next());
    const first = draws.slice(0, 3);
    expect(new Set(first.map((pair) => spki(pair.publicKey))).size).toBe(3);
    draws.forEach((pair, i) => expect(pair).toBe(first[i % 3]));
    first.forEach(expectRealRsaPair);
  });

  it('in recycle mode serves draws made before the pool is ready', async () => {
    const source = pooledKeyPairSource({ size: 2, recycle: true });
    const draws = await Promise.all([source.next(), source.next(), source.next()]);
    expect(draws[2]).toBe(draws[0]);
    expect(spki(draws[0]!.publicKey)).not.toBe(spki(draws[1]!.publicKey));
  });

  it('without recycle hands out `size` distinct keys, then more distinct ones, waiting when empty', async () => {
    const source = pooledKeyPairSource({ size: 2 });
    await source.ready();
    // Two from stock, then three more than the stock holds, drawn at once so some must wait.
    const draws = [await source.next(), await source.next(), ...(await Promise.all([source.next(), source.next(), source.next()]))];
    expect(new Set(draws.map((pair) => spki(pair.publicKey))).size).toBe(5);
    draws.forEach(expectRealRsaPair);
  });
});
