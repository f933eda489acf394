/**
 * A helper thread for long catch-ups (a rebuild, a read model far behind its SQLite event store): it
 * reads the log's pages ahead and stores the snapshots, so the runner's own thread only folds.
 *
 * Reading a page is two jobs: stepping SQLite through its rows (strings for every column), then
 * parsing each event's data and metadata. On one thread that is about half of a rebuild. Here the
 * helper has SQLite write each page as one JSON text, the events' data embedded as stored; the
 * runner parses that text once. Metadata is not sent: the fold reads only `occurredAt`,
 * which the store keeps in a column of its own beside the hashed metadata (`rekey verify` checks
 * that the two agree). A snapshot is a string the runner made; storing it (SQLite, the WAL) happens
 * on the helper, in order, and the runner waits for every one of them before it commits.
 *
 * The helper is bounded: at most PAGES_AHEAD pages read and not yet taken, and at most
 * SNAPSHOTS_IN_FLIGHT snapshots handed over and not yet stored, before the runner waits.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { translateSqliteError } from '../../src/store/sqliteErrors.js';
import type { FoldedEvent } from '../projection.js';
import { INSERT_SNAPSHOT_SQL } from './file.js';

const PAGES_AHEAD = 4;
const SNAPSHOTS_IN_FLIGHT = 4;
/** How long `close` waits for the helper to close its files before it stops the thread. */
const CLOSE_GRACE_MS = 5_000;
/**
 * Events per page on the helper (at most): small pages keep the texts in flight, and the memory of
 * both threads, small (a rebuild of 1,000,000 events peaks some 30 MB lower than with pages of 5,000).
 */
export const THREAD_PAGE_SIZE = 1_000;

/**
 * One page as [count, last position, JSON text]: SQLite writes the text (json_array escapes every
 * string, json() embeds the stored data), so the helper thread does almost nothing in JavaScript.
 * Tuples: [position, stream, revision, type, data, occurredAt, recordedAt, hash].
 */
const PAGE_SQL = `SELECT count(*), max(position),
  '[' || group_concat(json_array(position, stream, revision, type, json(data), occurred_at, recorded_at, hash), ',' ORDER BY position) || ']'
  FROM (SELECT * FROM events WHERE position >= ? ORDER BY position LIMIT ?)`;

export interface CatchUpThreadOptions {
  /** The SQLite event store's file. */
  readonly eventsFile: string;
  /** The read model's file, where snapshots are stored. */
  readonly readModelFile: string;
  /** First position to read. */
  readonly from: number;
  /** Events per page (THREAD_PAGE_SIZE at most). */
  readonly pageSize: number;
}

export interface CatchUpThread {
  /** Events per page: a shorter page is the end of the log. */
  readonly pageSize: number;
  /** The next page, in position order from `from` on; shorter than the page size at the end of the log. */
  nextPage(): Promise<FoldedEvent[]>;
  /** Hands a snapshot over to be stored; a failure to store it rejects `flush` (and the next pages). */
  writeSnapshot(position: number, instant: number | null, hash: string, state: string): void;
  /** Resolves once every snapshot handed over is stored. */
  flush(): Promise<void>;
  /** Ends the thread (pages read ahead are dropped; snapshots not flushed may be lost). */
  close(): Promise<void>;
}

// CommonJS evaluated in the worker: no file to find, whether rekey runs from dist/ or its sources.
// better-sqlite3 comes by the path this module resolved, so it loads wherever the process started.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.sqlite);
const { eventsFile, readModelFile, pageSize, pageSql, insertSnapshotSql } = workerData;
let next = workerData.from;
let ended = false;
let failed = false;
let events;
let readModel;
let readPage;
let insertSnapshot;
const fail = (source, error) => {
  failed = true;
  parentPort.postMessage({ kind: 'error', source, message: String((error && error.message) || error), code: error && typeof error.code === 'string' ? error.code : undefined });
};
parentPort.on('message', (message) => {
  if (message.kind === 'close') return parentPort.close();
  if (failed) return;
  const source = message.kind === 'snapshot' ? 'snapshots' : 'events';
  try {
    if (message.kind === 'read') {
      if (!readPage) {
        events = new Database(eventsFile, { readonly: true, fileMustExist: true });
        readPage = events.prepare(pageSql).raw(true);
      }
      for (let n = 0; n < message.pages && !ended; n++) {
        const [count, last, json] = readPage.get(next, pageSize);
        parentPort.postMessage({ kind: 'page', json: count === 0 ? '[]' : json, from: next });
        if (count > 0) next = last + 1;
        ended = count < pageSize;
      }
    } else if (message.kind === 'snapshot') {
      if (!insertSnapshot) {
        readModel = new Database(readModelFile, { fileMustExist: true, timeout: 10000 });
        insertSnapshot = readModel.prepare(insertSnapshotSql);
      }
      insertSnapshot.run(message.position, message.instant, message.hash, message.state);
      parentPort.postMessage({ kind: 'stored' });
    } else if (message.kind === 'flush') {
      parentPort.postMessage({ kind: 'flushed' });
    }
  } catch (error) {
    fail(source, error);
  }
});
parentPort.on('close', () => {
  events?.close();
  readModel?.close();
});
`;

type Tuple = [number, string, number, string, Record<string, unknown>, string, string, string];

type FromWorker =
  | { kind: 'page'; json: string; from: number }
  | { kind: 'stored' }
  | { kind: 'flushed' }
  | { kind: 'error'; source: 'events' | 'snapshots'; message: string; code?: string };

export function startCatchUpThread(options: CatchUpThreadOptions): CatchUpThread {
  const pageSize = Math.min(options.pageSize, THREAD_PAGE_SIZE);
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: {
      sqlite: createRequire(import.meta.url).resolve('better-sqlite3'),
      eventsFile: options.eventsFile,
      readModelFile: options.readModelFile,
      pageSize,
      pageSql: PAGE_SQL,
      insertSnapshotSql: INSERT_SNAPSHOT_SQL,
      from: options.from,
    },
  });
  const pages: { json: string; from: number }[] = [];
  let expected = options.from;
  let inFlight = 0;
  let failure: unknown = null;
  let closed = false;
  /** Whoever waits for the next message that changes something (a page, a stored snapshot, a failure). */
  let wake: (() => void) | null = null;
  const flushes: (() => void)[] = [];

  const fail = (error: unknown) => {
    failure ??= error;
    wake?.();
  };
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  worker.on('message', (message: FromWorker) => {
    if (message.kind === 'page') pages.push(message);
    else if (message.kind === 'stored') inFlight--;
    else if (message.kind === 'flushed') flushes.shift()?.();
    else {
      const what = message.source === 'events' ? `reading the event store ${options.eventsFile}` : `storing a snapshot in the read model ${options.readModelFile}`;
      const error = Object.assign(new Error(`${what} on the catch-up's helper thread failed: ${message.message}`), message.code === undefined ? {} : { code: message.code });
      fail(translateSqliteError(error, message.source === 'events' ? options.eventsFile : options.readModelFile));
    }
    wake?.();
  });
  worker.on('error', (error) => fail(error));
  worker.on('exit', (code) => {
    if (!closed) fail(new Error(`the catch-up's helper thread stopped (exit code ${code}) before the catch-up ended`));
  });
  worker.postMessage({ kind: 'read', pages: PAGES_AHEAD });

  /** Waits until `ready()` holds or the helper failed. */
  const until = async (ready: () => boolean): Promise<void> => {
    while (!ready()) {
      if (failure !== null) throw failure;
      await new Promise<void>((resolve) => { wake = resolve; });
      wake = null;
    }
    if (failure !== null) throw failure;
  };

  return {
    pageSize,

    async nextPage(): Promise<FoldedEvent[]> {
      await until(() => pages.length > 0 && inFlight <= SNAPSHOTS_IN_FLIGHT);
      const page = pages.shift()!;
      worker.postMessage({ kind: 'read', pages: 1 });
      let tuples: Tuple[];
      try {
        tuples = JSON.parse(page.json) as Tuple[];
      } catch (error) {
        throw new Error(`the events from position ${page.from} on in ${options.eventsFile} are not readable: ${(error as Error).message}`);
      }
      const events = new Array<FoldedEvent>(tuples.length);
      for (let i = 0; i < tuples.length; i++) {
        const [position, stream, revision, type, data, occurredAt, recordedAt, hash] = tuples[i]!;
        events[i] = { stream, revision, position, type, data, metadata: { occurredAt }, recordedAt, hash };
      }
      // Pages follow on from one another by construction; a gap would be a bug here, not in the log.
      if (events.length > 0 && events[0]!.position !== expected) {
        throw new Error(`the catch-up's helper thread read position ${events[0]!.position}, expected ${expected}`);
      }
      if (events.length > 0) expected = events[events.length - 1]!.position + 1;
      return events;
    },

    writeSnapshot(position, instant, hash, state) {
      inFlight++;
      worker.postMessage({ kind: 'snapshot', position, instant, hash, state });
    },

    async flush(): Promise<void> {
      let done = false;
      flushes.push(() => { done = true; });
      worker.postMessage({ kind: 'flush' });
      await until(() => done);
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      // Closing the port lets the helper close its files and end; a helper stuck past the grace is stopped.
      worker.postMessage({ kind: 'close' });
      const grace = setTimeout(() => void worker.terminate(), CLOSE_GRACE_MS);
      await exited;
      clearTimeout(grace);
    },
  };
}
