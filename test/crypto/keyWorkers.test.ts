/**
 * Keys made on worker threads: real RSA-2048 keys from OpenSSL, handed out in the order they were
 * requested whatever order the threads finish in, and workers that end when closed.
 */
import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateKeyPair, workerKeyPairSource, type KeyPair } from '../../src/crypto/index.js';

const spki = (key: KeyObject): string => key.export({ type: 'spki', format: 'der' }).toString('base64');

function expectRealRsaPair(pair: KeyPair): void {
  expect(pair.privateKey.asymmetricKeyType).toBe('rsa');
  expect(pair.privateKey.asymmetricKeyDetails).toMatchObject({ modulusLength: 2048, publicExponent: 65537n });
  expect(spki(createPublicKey(pair.privateKey))).toBe(spki(pair.publicKey));
  const message = Buffer.from('proof');
  expect(verify('sha256', message, pair.publicKey, sign('sha256', message, pair.privateKey))).toBe(true);
}

/**
 * Workers that answer key index k with the k-th of a list of real keys, after a delay that falls
 * with k: later keys are ready first, so a source that handed out keys as they finish would fail.
 */
const SHUFFLING_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { createPrivateKey, createPublicKey } = require('node:crypto');
parentPort.on('message', (index) => {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Math.max(0, 120 - index * 20));
  const pem = workerData.pems[index];
  if (pem === undefined) return parentPort.postMessage({ index, error: 'no key ' + index + ' in the list' });
  const privateKey = createPrivateKey(pem);
  parentPort.postMessage({ index, privateKey, publicKey: createPublicKey(privateKey) });
});
`;

describe('workerKeyPairSource', () => {
  it('makes real, distinct RSA-2048 key pairs on its workers, also for draws made at once', async () => {
    const source = workerKeyPairSource({ workers: 2, ahead: 2 });
    try {
      await source.ready();
      const draws = await Promise.all([source.next(), source.next(), source.next(), source.next()]);
      expect(new Set(draws.map((pair) => spki(pair.publicKey))).size).toBe(4);
      draws.forEach(expectRealRsaPair);
    } finally {
      await source.close();
    }
  });

  it('hands out key k to draw k whatever order the workers finish in', async () => {
    const keys = await Promise.all(Array.from({ length: 6 }, () => generateKeyPair()));
    const pems = keys.map((pair) => pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
    const source = workerKeyPairSource({ workers: 3, ahead: 6, workerSource: { code: SHUFFLING_WORKER, workerData: { pems } } });
    try {
      const draws = await Promise.all(keys.map(() => source.next()));
      expect(draws.map((pair) => spki(pair.publicKey))).toEqual(keys.map((pair) => spki(pair.publicKey)));
      expect(spki(createPublicKey(createPrivateKey(pems[5]!)))).toBe(spki(draws[5]!.publicKey));
    } finally {
      await source.close();
    }
  });

  it('rejects the draw whose key failed with the reason, and serves the next draw', async () => {
    const [pair] = await Promise.all([generateKeyPair()]);
    const pems = [undefined, pair!.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()];
    const source = workerKeyPairSource({ workers: 1, ahead: 1, workerSource: { code: SHUFFLING_WORKER, workerData: { pems } } });
    try {
      await expect(source.next()).rejects.toThrow('generating RSA-2048 key 0 failed: no key 0 in the list');
      expect(spki((await source.next()).publicKey)).toBe(spki(pair!.publicKey));
    } finally {
      await source.close();
    }
  });

  it('refuses bad sizes, naming the value, and refuses draws once closed', async () => {
    expect(() => workerKeyPairSource({ workers: 0 })).toThrow('workers must be a positive integer, got 0');
    expect(() => workerKeyPairSource({ ahead: 1.5 })).toThrow('ahead must be a positive integer, got 1.5');
    expect(() => workerKeyPairSource({ workers: 2, background: 3 })).toThrow('background must be a whole number from 1 to workers (2), got 3');
    expect(() => workerKeyPairSource({ workers: 2, background: 0 })).toThrow('background must be a whole number from 1 to workers (2), got 0');
    const source = workerKeyPairSource({ workers: 1, ahead: 1 });
    const pending = expect(source.ready()).rejects.toThrow('the key workers were closed');
    await source.close();
    await pending;
    await expect(source.next()).rejects.toThrow('the key workers are closed');
  });

  it('makes keys ahead on the background workers only, and on every worker while a draw waits', async () => {
    // Each worker counts how many keys are being made at once (shared memory), then answers after 60 ms.
    const COUNTING_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { createPrivateKey, createPublicKey } = require('node:crypto');
const counters = new Int32Array(workerData.counters);
parentPort.on('message', (index) => {
  const now = Atomics.add(counters, 0, 1) + 1;
  for (;;) { const max = Atomics.load(counters, 1); if (now <= max || Atomics.compareExchange(counters, 1, max, now) === max) break; }
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60);
  Atomics.sub(counters, 0, 1);
  const privateKey = createPrivateKey(workerData.pem);
  parentPort.postMessage({ index, privateKey, publicKey: createPublicKey(privateKey) });
});
`;
    const pem = (await generateKeyPair()).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const shared = new SharedArrayBuffer(8);
    const counters = new Int32Array(shared);
    const source = workerKeyPairSource({ workers: 3, ahead: 4, workerSource: { code: COUNTING_WORKER, workerData: { counters: shared, pem } } });
    try {
      await new Promise((resolve) => setTimeout(resolve, 400)); // nobody draws: the 4 keys ahead, two at a time (all workers but one)
      expect(Atomics.load(counters, 1)).toBe(2);
      const draws = await Promise.all(Array.from({ length: 10 }, () => source.next())); // 6 not made yet: all workers help
      expect(draws).toHaveLength(10);
      expect(Atomics.load(counters, 1)).toBe(3);
    } finally {
      await source.close();
    }
  });
});
