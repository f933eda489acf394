/**
 * RSA-2048 keys made ahead on worker threads, one per core by default, for simulations that draw
 * thousands of keys: generation then runs beside the simulation's own thread instead of on libuv's
 * pool, which the PKCS#12 key derivation and the file system also need.
 *
 * The order keys are handed out in never depends on thread timing: key k (the k-th requested,
 * counting from 0) is made by worker k mod n, the k-th draw gets key k, and a draw whose key is not
 * there yet waits for that one key even if later ones are done. Every key is still fresh from
 * OpenSSL; what is reproducible is which draw gets which key, so a seeded run that labels keys by
 * draw (as `stateHash` does, by group and version) gives the same result however the threads ran.
 *
 * Workers keep the process alive only while a draw waits; `close()` ends them.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { RSA_MODULUS_BITS } from './keys.js';
import type { KeyPair, KeyPairSource } from './types.js';

export interface WorkerKeyPairSourceOptions {
  /** Worker threads (default: the core count, at most 4). */
  readonly workers?: number;
  /** Keys requested ahead of the draws (default 16): enough to cover a burst of renewals. */
  readonly ahead?: number;
  /**
   * Tests only: the workers' CommonJS code instead of the real generator, with `workerData` beside
   * it. It answers each key index with `{index, publicKey, privateKey}` or `{index, error}`.
   */
  readonly workerSource?: { readonly code: string; readonly workerData?: unknown };
}

export interface WorkerKeyPairSource extends KeyPairSource {
  /** Resolves once the first `ahead` keys exist (rejects if making one failed). */
  ready(): Promise<void>;
  /** Ends the workers; draws still waiting are rejected. */
  close(): Promise<void>;
}

// CommonJS, evaluated in the worker: no file to find, whether rekey runs from dist/ or its sources.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { generateKeyPairSync } = require('node:crypto');
parentPort.on('message', (index) => {
  try {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: ${RSA_MODULUS_BITS}, publicExponent: 0x10001 });
    parentPort.postMessage({ index, publicKey, privateKey });
  } catch (error) {
    parentPort.postMessage({ index, error: String(error && error.message || error) });
  }
});
`;

interface Slot {
  readonly promise: Promise<KeyPair>;
  resolve(pair: KeyPair): void;
  reject(error: Error): void;
}

function slot(): Slot {
  let resolve!: (pair: KeyPair) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<KeyPair>((res, rej) => { resolve = res; reject = rej; });
  promise.catch(() => undefined); // handled by whoever draws it
  return { promise, resolve, reject };
}

export function workerKeyPairSource(options: WorkerKeyPairSourceOptions = {}): WorkerKeyPairSource {
  const count = options.workers ?? Math.min(4, Math.max(1, availableParallelism()));
  const ahead = options.ahead ?? 16;
  if (!Number.isSafeInteger(count) || count < 1) throw new RangeError(`workers must be a positive integer, got ${count}`);
  if (!Number.isSafeInteger(ahead) || ahead < 1) throw new RangeError(`ahead must be a positive integer, got ${ahead}`);

  /** Slots by key index, from the first one not drawn yet. */
  const slots = new Map<number, Slot>();
  let requested = 0;
  let drawn = 0;
  let waiting = 0;
  let closed = false;

  const workers = Array.from({ length: count }, () => {
    const worker = new Worker(options.workerSource?.code ?? WORKER_SOURCE, { eval: true, workerData: options.workerSource?.workerData });
    worker.unref();
    worker.on('message', (message: { index: number; publicKey?: KeyPair['publicKey']; privateKey?: KeyPair['privateKey']; error?: string }) => {
      const target = slots.get(message.index);
      if (!target) return;
      if (message.error !== undefined || !message.publicKey || !message.privateKey) {
        target.reject(new Error(`generating RSA-${RSA_MODULUS_BITS} key ${message.index} failed: ${message.error ?? 'no key came back'}`));
      } else {
        target.resolve({ publicKey: message.publicKey, privateKey: message.privateKey });
      }
    });
    worker.on('error', (error) => failAll(error));
    return worker;
  });

  const failAll = (error: Error) => {
    for (const pending of slots.values()) pending.reject(error);
  };

  const request = () => {
    while (!closed && requested < drawn + ahead) {
      const index = requested++;
      slots.set(index, slot());
      workers[index % count]!.postMessage(index);
    }
  };

  // A draw that waits holds the workers (and so the process) alive until its key is there.
  const hold = () => {
    if (waiting++ === 0) for (const worker of workers) worker.ref();
  };
  const release = () => {
    if (--waiting === 0) for (const worker of workers) worker.unref();
  };

  request();
  const first = Array.from({ length: ahead }, (_, index) => slots.get(index)!.promise);

  return {
    async next(): Promise<KeyPair> {
      if (closed) throw new Error('the key workers are closed');
      const index = drawn++;
      request();
      const target = slots.get(index)!;
      hold();
      try {
        return await target.promise;
      } finally {
        release();
        slots.delete(index);
      }
    },
    async ready(): Promise<void> {
      hold();
      try {
        await Promise.all(first);
      } finally {
        release();
      }
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      failAll(new Error('the key workers were closed'));
      await Promise.all(workers.map((worker) => worker.terminate()));
    },
  };
}
