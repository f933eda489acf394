/**
 * The EventStoreDB store (docs/eventstoredb.md), on @eventstore/db-client 6.x over gRPC.
 *
 * Our port wants global positions contiguous from 1 and a hash chain by position; ESDB's `$all`
 * positions (commit/prepare offsets in its transaction file) are neither contiguous nor ours to
 * chain. So rekey keeps its whole log in ONE ESDB stream, `<prefix>log` (default `rekey-log`):
 *
 * - ESDB revision r of the log stream IS our position r + 1: contiguous from 1 by construction.
 * - Every append goes to the log stream with ESDB's expected revision = the head we built on
 *   (`no_stream` for an empty log). ESDB accepts exactly one writer per head, atomically for the
 *   whole batch, so positions and the hash chain (computed from the previous event's hash) are
 *   assigned exactly once, whatever races: a writer that lost gets ESDB's
 *   WrongExpectedVersionError on the log, reads the tail and tries again.
 * - The logical stream and revision, our position, the hash, the append's wall-clock time and the
 *   event's own metadata travel in the ESDB metadata of each event (see `eventstoredb/codec.ts`).
 * - Per-logical-stream optimistic concurrency is checked against an index (stream -> positions)
 *   that follows the log's tail. The check may run on a stale index without harm: the log append
 *   then fails (the log moved), and the store refreshes the index and checks again; a
 *   WrongExpectedRevisionError is only ever raised on a freshly read index, with the actual revision.
 * - Event ids are deterministic (`eventIdFor`: a v5-like UUID of stream, command id and index), so
 *   an append whose response was lost (timeout, leader change) is recognised in the log as our own
 *   and reported as done instead of being written twice.
 * - `readAll`, `headPosition`, `verify` and `subscribeAll` read the log stream only, so system
 *   events and other tools' streams in the same database never show; `readStream` reads the log
 *   entries the index names.
 *
 * The trade-off: one serialization point for every writer of one rekey log (the head of one
 * stream), which is what a single-writer-per-group engine needs anyway; throughput is one append
 * per round trip per log. docs/eventstoredb.md discusses it.
 */
import {
  END,
  ErrorType,
  EventStoreDBClient,
  NO_STREAM,
  START,
  BACKWARDS,
  FORWARDS,
  isCommandError,
  jsonEvent,
  type ResolvedEvent,
  type StreamSubscription,
} from '@eventstore/db-client';
import { Observable, type Subscriber } from 'rxjs';
import { RekeyError, errorKind } from '../kernel/errors.js';
import { invalidStoreArgument, STORE_BUSY, STORE_CORRUPT, storeClosed, WrongExpectedRevisionError } from './errors.js';
import { eventHashFromJson, GENESIS_HASH, verifyChain, type StoredChainLink, type VerifyChainOptions, type VerifyResult } from './hashChain.js';
import type { AppendResult, EventMetadata, EventStore, ExpectedRevision, NewEvent, RecordedEvent, StreamBatch } from './port.js';
import { checkAppend, checkBatches, checkIndex, checkStream, expectedMatches, readAllArguments, readStreamArguments, serializeEvents, type SerializedEvent } from './validation.js';
import {
  DEFAULT_STREAM_PREFIX,
  decodeEntry,
  encodeMetadata,
  eventIdFor,
  logStreamName,
  toChainLink,
  type DecodedEntry,
  type LogEntry,
} from './eventstoredb/codec.js';

export { DEFAULT_STREAM_PREFIX, eventIdFor, logStreamName } from './eventstoredb/codec.js';

/** EventStoreDB could not be reached, or refused a call for a reason other than a conflict. */
export const STORE_UNAVAILABLE = errorKind('STORE_UNAVAILABLE', 'internal');

export interface EventStoreDbOptions {
  /** `esdb://host:2113?tls=false`, `esdb+discover://...`, or a gossip seed list `esdb://a:2113,b:2113,c:2113?tls=false`. */
  connectionString: string;
  /** Prefix of rekey's streams (default `rekey-`): the log is `<prefix>log`. One prefix per rekey log. */
  streamPrefix?: string;
  /** Source of `recordedAt` (default: the system clock). */
  wallClock?: () => Date;
  /** Events per read request for catch-up, index refresh and verification (default 1000). */
  pageSize?: number;
  /** Attempts of one append when the log keeps moving or the outcome is unknown (default 200). */
  maxAppendAttempts?: number;
  /** Delay before a dropped subscription resubscribes, doubling up to 5 s (default 100 ms). */
  resubscribeDelayMs?: number;
}

export interface EventStoreDbEventStore extends EventStore {
  readonly connectionString: string;
  /** The ESDB stream that holds the log. */
  readonly logStream: string;
  /** Walks the whole hash chain; `expectHead` also detects a log cut short at its end. */
  verify(options?: Pick<VerifyChainOptions, 'expectHead'>): Promise<VerifyResult>;
}

/** A connection string with any user:password part masked, for messages. */
export function redactConnectionString(connectionString: string): string {
  return connectionString.replace(/\/\/[^@/]*@/, '//***@');
}

/** Error types after which an append may or may not have been written. */
const OUTCOME_UNKNOWN = new Set<string>([ErrorType.UNAVAILABLE, ErrorType.DEADLINE_EXCEEDED, ErrorType.TIMEOUT, ErrorType.NOT_LEADER, ErrorType.CANCELLED]);
/** Error types a subscription does not recover from by resubscribing. */
const SUBSCRIPTION_FATAL = new Set<string>([ErrorType.ACCESS_DENIED, ErrorType.STREAM_DELETED, ErrorType.INVALID_ARGUMENT]);

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function openEventStoreDb(options: EventStoreDbOptions): EventStoreDbEventStore {
  const connectionString = options.connectionString;
  const shown = redactConnectionString(connectionString);
  const logStream = logStreamName(options.streamPrefix ?? DEFAULT_STREAM_PREFIX);
  const wallClock = options.wallClock ?? (() => new Date());
  const pageSize = options.pageSize ?? 1000;
  const maxAppendAttempts = options.maxAppendAttempts ?? 200;
  const resubscribeDelayMs = options.resubscribeDelayMs ?? 100;

  let client: EventStoreDBClient;
  try {
    client = EventStoreDBClient.connectionString(connectionString);
  } catch (error) {
    throw invalidStoreArgument(`${shown} is not a valid EventStoreDB connection string: ${(error as Error).message}`, { connectionString: shown });
  }

  let closed = false;
  const open = () => {
    if (closed) throw storeClosed('eventstoredb');
  };

  const unavailable = (error: unknown, doing: string): unknown => {
    if (error instanceof RekeyError) return error;
    if (closed) return storeClosed('eventstoredb');
    const message = error instanceof Error ? error.message : String(error);
    const type = isCommandError(error as Error) ? (error as { type: string }).type : 'unknown';
    return new RekeyError(STORE_UNAVAILABLE, `EventStoreDB at ${shown} failed while ${doing}: ${message}`, { connectionString: shown, type }, 'internal');
  };

  const isStreamNotFound = (error: unknown) =>
    error instanceof Error && isCommandError(error) && error.type === ErrorType.STREAM_NOT_FOUND;

  // ---- reading the log ---------------------------------------------------------------------------

  /** Log entries from `fromPosition` on, at most `limit` of them, decoded; [] beyond the end or for no log. */
  const readEntries = async (fromPosition: number, limit: number): Promise<DecodedEntry[]> => {
    if (limit <= 0) return [];
    const out: DecodedEntry[] = [];
    try {
      const read = client.readStream(logStream, { fromRevision: BigInt(fromPosition - 1), maxCount: limit, direction: FORWARDS });
      for await (const resolved of read as AsyncIterable<ResolvedEvent>) {
        if (resolved.event) out.push(decodeEntry(resolved.event as LogEntry));
      }
    } catch (error) {
      if (isStreamNotFound(error)) return [];
      throw unavailable(error, `reading ${logStream} from position ${fromPosition}`);
    }
    return out;
  };

  const readPage = async (fromPosition: number, limit: number): Promise<RecordedEvent[]> =>
    (await readEntries(fromPosition, limit)).map((entry) => entry.event);

  const readHeadPosition = async (): Promise<number> => {
    try {
      const read = client.readStream(logStream, { fromRevision: END, maxCount: 1, direction: BACKWARDS });
      for await (const resolved of read as AsyncIterable<ResolvedEvent>) {
        if (resolved.event) return Number(resolved.event.revision) + 1;
      }
      return 0;
    } catch (error) {
      if (isStreamNotFound(error)) return 0;
      throw unavailable(error, `reading the head of ${logStream}`);
    }
  };

  // ---- the index: logical streams' positions, following the log's tail ---------------------------

  const index = {
    /** Positions 1..loaded are indexed. */
    loaded: 0,
    headHash: GENESIS_HASH,
    /** Positions of each logical stream, by revision. */
    streams: new Map<string, number[]>(),
  };

  const indexEvent = (event: RecordedEvent): void => {
    if (event.position !== index.loaded + 1) return; // already indexed (or not yet reachable)
    const positions = index.streams.get(event.stream) ?? [];
    if (event.revision !== positions.length) {
      throw new RekeyError(
        STORE_CORRUPT,
        `EventStoreDB stream ${logStream} is not a readable rekey event log: the event at position ${event.position} ` +
          `has revision ${event.revision} of stream ${event.stream}, which is at revision ${positions.length - 1}`,
        { stream: logStream, position: event.position },
      );
    }
    if (positions.length === 0) index.streams.set(event.stream, positions);
    positions.push(event.position);
    index.loaded = event.position;
    index.headHash = event.hash;
  };

  let indexLoaded = false;
  let refreshing: Promise<void> | undefined;
  /** Reads the log's tail into the index (one read in flight at a time). */
  const refresh = (): Promise<void> => {
    refreshing ??= (async () => {
      try {
        for (;;) {
          const page = await readPage(index.loaded + 1, pageSize);
          for (const event of page) indexEvent(event);
          if (page.length < pageSize) break;
        }
        indexLoaded = true;
      } finally {
        refreshing = undefined;
      }
    })();
    return refreshing;
  };

  const revisionOf = (stream: string) => (index.streams.get(stream)?.length ?? 0) - 1;

  // ---- appending -------------------------------------------------------------------------------

  // Appends of this process run one at a time: they would only conflict with each other on the log.
  let appendQueue: Promise<unknown> = Promise.resolve();
  const serialized = <T>(task: () => Promise<T>): Promise<T> => {
    const run = appendQueue.then(task, task);
    appendQueue = run.catch(() => undefined);
    return run;
  };

  interface Part {
    readonly stream: string;
    readonly events: readonly NewEvent[];
    readonly prepared: readonly SerializedEvent[];
    readonly expected: ExpectedRevision;
  }

  /**
   * Whether the log holds, at `head + 1 ...`, exactly these events (stream and id each): asked after
   * an append whose outcome is unknown. Retries its own read while the server is unreachable.
   */
  const holdsOwnWrite = async (head: number, expected: readonly { stream: string; id: string }[], cause: unknown): Promise<boolean> => {
    for (let attempt = 1; ; attempt++) {
      await sleep(Math.min(1000, 50 * attempt));
      open();
      try {
        const entries = await readEntries(head + 1, expected.length);
        return entries.length === expected.length && entries.every((entry, i) => entry.event.stream === expected[i]!.stream && entry.id === expected[i]!.id);
      } catch (error) {
        if (!(error instanceof RekeyError && error.code === STORE_UNAVAILABLE)) throw error;
        if (attempt >= 20) throw unavailable(cause, `appending to ${expected[0]?.stream ?? logStream} (and the log could not be read afterwards to learn whether it was written)`);
      }
    }
  };

  /** One write of every part's events as ONE append to the log stream: ESDB stores a batch atomically. */
  const appendOnce = async (parts: readonly Part[]): Promise<AppendResult[]> => {
    const ids = parts.flatMap(({ stream, events, prepared }) => prepared.map((_, i) => ({ stream, id: eventIdFor(stream, events[i]!.metadata.commandId, i) })));
    const streamsNamed = parts.map((part) => part.stream).join(', ');
    const recordedAt = wallClock().toISOString();
    let fresh = false; // whether the index was read from the log since the last failed attempt
    if (!indexLoaded) {
      await refresh();
      fresh = true;
    }
    for (let attempt = 1; ; attempt++) {
      open();
      const mismatch = () => parts.find(({ stream, expected }) => !expectedMatches(expected, revisionOf(stream)));
      if (mismatch() && !fresh) {
        await refresh(); // the index may be stale: a conflict is only reported on what the log holds now
        fresh = true;
      }
      const wrong = mismatch();
      if (wrong) throw new WrongExpectedRevisionError(wrong.stream, wrong.expected, revisionOf(wrong.stream));
      const head = index.loaded;
      let previousHash = index.headHash;
      let position = head;
      const built: RecordedEvent[] = [];
      const results: AppendResult[] = [];
      const proposed = parts.flatMap(({ stream, prepared }) => {
        const actual = revisionOf(stream);
        results.push({ lastRevision: actual + prepared.length, lastPosition: prepared.length === 0 ? index.streams.get(stream)?.at(-1) ?? 0 : position + prepared.length });
        return prepared.map((p, i) => {
          position++;
          const revision = actual + 1 + i;
          const hash = eventHashFromJson(previousHash, { stream, revision, position, type: p.type, dataJson: p.dataJson, metadataJson: p.metadataJson });
          previousHash = hash;
          const metadata = JSON.parse(p.metadataJson) as EventMetadata;
          const data = JSON.parse(p.dataJson) as Record<string, unknown>;
          built.push({ stream, revision, position, type: p.type, data, metadata, recordedAt, hash });
          return jsonEvent({ id: ids[built.length - 1]!.id, type: p.type, data, metadata: encodeMetadata(metadata, { stream, revision, position, hash, recordedAt }) });
        });
      });
      let written = false;
      try {
        // ESDB's own optimistic concurrency on the log: exactly one writer gets each head.
        await client.appendToStream(logStream, proposed, { expectedRevision: head === 0 ? NO_STREAM : BigInt(head - 1) });
        written = true;
      } catch (error) {
        open();
        const type = error instanceof Error && isCommandError(error) ? error.type : undefined;
        if (type === ErrorType.WRONG_EXPECTED_VERSION) {
          // The log moved since the index was read: another writer appended first.
        } else if (type !== undefined && OUTCOME_UNKNOWN.has(type)) {
          // It may have been written before the connection failed: look for our own ids.
          written = await holdsOwnWrite(head, ids, error);
        } else {
          throw unavailable(error, `appending to ${streamsNamed}`);
        }
      }
      if (written) {
        if (index.loaded === head) for (const event of built) indexEvent(event);
        return results;
      }
      if (attempt >= maxAppendAttempts) {
        throw new RekeyError(
          STORE_BUSY,
          `the EventStoreDB log ${logStream} at ${shown} kept moving under the append to stream ${streamsNamed}; gave up after ${attempt} attempts`,
          { stream: parts[0]?.stream, logStream, attempts: attempt },
        );
      }
      if (attempt > 3) await sleep(Math.min(200, Math.floor(Math.random() * 5 * attempt)));
      await refresh();
      fresh = true;
    }
  };

  // ---- subscriptions -----------------------------------------------------------------------------

  const live = new Set<{ complete(): void }>();

  const subscribeLog = (fromPosition: number): Observable<RecordedEvent> =>
    new Observable<RecordedEvent>((subscriber: Subscriber<RecordedEvent>) => {
      let next = fromPosition; // the position this subscriber is owed next: its checkpoint
      let current: StreamSubscription | undefined;
      let timer: NodeJS.Timeout | undefined;
      let stopped = false;
      let delay = resubscribeDelayMs;

      const detach = () => {
        const subscription = current;
        current = undefined;
        if (subscription) {
          subscription.removeAllListeners('data');
          subscription.on('error', () => undefined);
          void subscription.unsubscribe().catch(() => undefined);
        }
      };
      const stop = () => {
        stopped = true;
        clearTimeout(timer);
        detach();
        live.delete(handle);
      };
      const handle = {
        complete: () => {
          stop();
          subscriber.complete();
        },
      };
      const fail = (error: unknown) => {
        if (stopped) return;
        stop();
        subscriber.error(error);
      };
      const resubscribe = () => {
        if (stopped) return;
        detach();
        clearTimeout(timer);
        timer = setTimeout(start, delay);
        delay = Math.min(5000, delay * 2);
      };
      function start(): void {
        if (stopped) return;
        // A catch-up subscription from revision r delivers what follows r; starting one event early
        // and skipping what was already delivered is right whichever way the server counts.
        const subscription = client.subscribeToStream(logStream, { fromRevision: next <= 1 ? START : BigInt(next - 2) });
        current = subscription;
        subscription.on('data', (resolved: ResolvedEvent) => {
          if (stopped || current !== subscription || !resolved.event) return;
          const position = Number(resolved.event.revision) + 1;
          if (position < next) return; // delivered before the drop
          if (position > next) {
            resubscribe(); // a gap cannot happen on one stream; if it does, read it again from the checkpoint
            return;
          }
          let decoded: DecodedEntry;
          try {
            decoded = decodeEntry(resolved.event as LogEntry);
          } catch (error) {
            fail(error);
            return;
          }
          next++;
          delay = resubscribeDelayMs;
          subscriber.next(decoded.event);
        });
        subscription.on('error', (error: Error) => {
          if (stopped || current !== subscription) return;
          if (isCommandError(error) && SUBSCRIPTION_FATAL.has(error.type)) fail(unavailable(error, `following ${logStream}`));
          else resubscribe(); // dropped (server restart, leader change, slow consumer): from the checkpoint
        });
        subscription.on('end', () => {
          if (!stopped && current === subscription) resubscribe();
        });
      }

      live.add(handle);
      start();
      return stop;
    });

  // ---- the port ----------------------------------------------------------------------------------

  const store: EventStoreDbEventStore = {
    kind: 'eventstoredb',
    connectionString: shown,
    logStream,

    async append(stream: string, events: readonly NewEvent[], expected: ExpectedRevision): Promise<AppendResult> {
      open();
      checkAppend(stream, events, expected);
      if (events.length === 0) {
        await refresh();
        const actual = revisionOf(stream);
        if (!expectedMatches(expected, actual)) throw new WrongExpectedRevisionError(stream, expected, actual);
        return { lastRevision: actual, lastPosition: index.streams.get(stream)?.at(-1) ?? 0 };
      }
      const prepared = serializeEvents(stream, events); // unserialisable events are refused before anything is sent
      return (await serialized(() => appendOnce([{ stream, events, prepared, expected }])))[0]!;
    },

    async appendMany(batches: readonly StreamBatch[]): Promise<AppendResult[]> {
      open();
      checkBatches(batches);
      const parts = batches.map(({ stream, events, expected }) => ({ stream, events, prepared: serializeEvents(stream, events), expected }));
      return serialized(() => appendOnce(parts));
    },

    async readStream(stream: string, fromRevision?: number): Promise<RecordedEvent[]> {
      open();
      const from = readStreamArguments(stream, fromRevision);
      await refresh();
      const positions = (index.streams.get(stream) ?? []).slice(from);
      const out: RecordedEvent[] = [];
      // Read runs of nearby positions in one request each, and keep this stream's events.
      let i = 0;
      while (i < positions.length) {
        let j = i;
        while (j + 1 < positions.length && positions[j + 1]! - positions[j]! <= 64 && positions[j + 1]! - positions[i]! < pageSize) j++;
        const first = positions[i]!;
        const page = await readPage(first, positions[j]! - first + 1);
        for (const event of page) if (event.stream === stream && event.revision >= from) out.push(event);
        i = j + 1;
      }
      return out;
    },

    async readAll(fromPosition?: number, limit?: number): Promise<RecordedEvent[]> {
      open();
      const { from, max } = readAllArguments(fromPosition, limit);
      return readPage(from, max);
    },

    async headPosition(): Promise<number> {
      open();
      return readHeadPosition();
    },

    subscribeAll(fromPosition?: number): Observable<RecordedEvent> {
      open();
      return subscribeLog(Math.max(1, checkIndex('fromPosition', fromPosition, 1)));
    },

    async verify(verifyOptions: Pick<VerifyChainOptions, 'expectHead'> = {}): Promise<VerifyResult> {
      open();
      const revisions = new Map<string, number>();
      const pages = async function* (): AsyncGenerator<StoredChainLink[]> {
        let from = 1;
        for (;;) {
          open();
          const entries = await readEntries(from, pageSize);
          if (entries.length === 0) return;
          yield entries.map((entry) => {
            const link = toChainLink(entry);
            const expectedRevision = (revisions.get(link.stream) ?? -1) + 1;
            revisions.set(link.stream, link.revision);
            if (link.problem === undefined && link.revision !== expectedRevision) {
              link.problem = `event at position ${link.position} is revision ${link.revision} of stream ${link.stream}, expected revision ${expectedRevision}`;
            }
            return link;
          });
          from = entries[entries.length - 1]!.event.position + 1;
          if (entries.length < pageSize) return;
        }
      };
      return verifyChain(pages(), { expectHead: verifyOptions.expectHead });
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      for (const handle of [...live]) handle.complete();
      try {
        await client.dispose();
      } catch {
        // closing anyway
      }
    },
  };
  return store;
}
