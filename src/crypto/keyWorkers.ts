/**
 * RSA-2048 keys made ahead on worker threads, for simulations that draw thousands of keys:
 * generation runs beside the simulation's own thread instead of on libuv's pool, which the PKCS#12
 * key derivation and the file system also need.
 *
 * While no draw waits, only the background workers (all but one, at least one) make keys ahead, so
 * the drawing thread keeps a core of its own: three busy threads on two cores slow the simulation
 * down by more than the extra worker saves (bench simulation). While a draw waits, that thread has
 * nothing to do, and every worker helps.
 *
 * The order keys are handed out in never depends on thread timing: key k (the k-th requested,
 * counting from 0) is given to whichever worker is free, the k-th draw gets key k, and a draw whose
 * key is not there yet waits for that one key even if later ones are done. Every key is still fresh
 * from OpenSSL; what is reproducible is which draw gets which key, so a seeded run that labels keys
 * by draw (as `stateHash` does, by group and version) gives the same result however the threads ran.
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
  /** Workers that make keys while no draw waits (default: all but one, at least one). */
  readonly background?: number;
  /** Keys made ahead of the draws (default 16): enough to cover a burst of renewals (one per group). */
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
  /** Whether the key (or its failure) is there: a draw of it waits for nothing. */
  readonly settled: boolean;
  resolve(pair: KeyPair): void;
  reject(error: Error): void;
}

function slot(): Slot {
  let resolve!: (pair: KeyPair) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<KeyPair>((res, rej) => { resolve = res; reject = rej; });
  promise.catch(() => undefined); // handled by whoever draws it
  const target = {
    promise,
    settled: false,
    resolve(pair: KeyPair) { target.settled = true; resolve(pair); },
    reject(error: Error) { target.settled = true; reject(error); },
  };
  return target;
}

export function workerKeyPairSource(options: WorkerKeyPairSourceOptions = {}): WorkerKeyPairSource {
  const count = options.workers ?? Math.min(4, Math.max(1, availableParallelism()));
  const ahead = options.ahead ?? 16;
  if (!Number.isSafeInteger(count) || count < 1) throw new RangeError(`workers must be a positive integer, got ${count}`);
  const background = options.background ?? Math.max(1, count - 1);
  if (!Number.isSafeInteger(background) || background < 1 || background > count) {
    throw new RangeError(`background must be a whole number from 1 to workers (${count}), got ${background}`);
  }
  if (!Number.isSafeInteger(ahead) || ahead < 1) throw new RangeError(`ahead must be a positive integer, got ${ahead}`);

  /** Slots by key index, from the first one not drawn yet. */
  const slots = new Map<number, Slot>();
  /** Keys 0 .. requested-1 have slots; keys 0 .. assigned-1 have been given to a worker. */
  let requested = 0;
  let assigned = 0;
  let drawn = 0;
  let waiting = 0;
  let closed = false;
  /** Keys given to each worker and not answered yet. */
  const inFlight: number[] = new Array(count).fill(0);

  /**
   * Gives the next keys to workers: the background ones always, two at a time so that one is queued
   * while the other is made (their answers, and so the next requests, wait until this thread's event
   * loop runs); the others one at a time, while a draw waits.
   */
  const dispatch = () => {
    for (let w = 0; w < count && !closed && assigned < requested; w++) {
      const limit = w < background ? 2 : waiting > 0 ? 1 : 0;
      while (inFlight[w]! < limit && assigned < requested) {
        inFlight[w]!++;
        workers[w]!.postMessage(assigned++);
      }
    }
  };

  const workers = Array.from({ length: count }, (_, w) => {
    const worker = new Worker(options.workerSource?.code ?? WORKER_SOURCE, { eval: true, workerData: options.workerSource?.workerData });
    worker.unref();
    worker.on('message', (message: { index: number; publicKey?: KeyPair['publicKey']; privateKey?: KeyPair['privateKey']; error?: string }) => {
      inFlight[w]!--;
      const target = slots.get(message.index);
      if (target) {
        if (message.error !== undefined || !message.publicKey || !message.privateKey) {
          target.reject(new Error(`generating RSA-${RSA_MODULUS_BITS} key ${message.index} failed: ${message.error ?? 'no key came back'}`));
        } else {
          target.resolve({ publicKey: message.publicKey, privateKey: message.privateKey });
        }
      }
      dispatch();
    });
    worker.on('error', (error) => failAll(error));
    return worker;
  });

  const failAll = (error: Error) => {
    for (const pending of slots.values()) pending.reject(error);
  };

  const request = () => {
    while (!closed && requested < drawn + ahead) slots.set(requested++, slot());
    dispatch();
  };

  // A draw that waits holds the workers (and so the process) alive until its key is there, and lets
  // every worker help.
  const hold = () => {
    if (waiting++ === 0) for (const worker of workers) worker.ref();
    dispatch();
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
      if (target.settled) {
        slots.delete(index);
        return target.promise;
      }
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
