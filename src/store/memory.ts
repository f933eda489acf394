/**
 * The in-memory event store: the reference implementation of the port for unit tests. It keeps
 * events as canonical JSON text, as the SQLite store does, so readers get fresh objects that they
 * may mutate freely and both stores hand back exactly the same values (and hashes) for the same
 * appends.
 */
import type { Observable } from 'rxjs';
import { storeClosed, WrongExpectedRevisionError } from './errors.js';
import { eventHashFromJson, GENESIS_HASH, verifyChain, type VerifyChainOptions, type VerifyResult } from './hashChain.js';
import type { AppendResult, EventStore, ExpectedRevision, NewEvent, RecordedEvent, StreamBatch } from './port.js';
import { SubscriptionHub } from './subscription.js';
import { checkAppend, checkBatches, checkIndex, checkStream, expectedMatches, readAllArguments, readStreamArguments, serializeEvents } from './validation.js';

interface StoredEvent {
  stream: string;
  revision: number;
  position: number;
  type: string;
  dataJson: string;
  metadataJson: string;
  recordedAt: string;
  hash: string;
}

export interface InMemoryEventStoreOptions {
  /** Source of `recordedAt` (default: the system clock). */
  wallClock?: () => Date;
}

export interface InMemoryEventStore extends EventStore {
  verify(options?: VerifyChainOptions): Promise<VerifyResult>;
}

export function createInMemoryEventStore(options: InMemoryEventStoreOptions = {}): InMemoryEventStore {
  const wallClock = options.wallClock ?? (() => new Date());
  const log: StoredEvent[] = []; // log[i] has position i + 1
  const streams = new Map<string, StoredEvent[]>();
  let closed = false;

  const materialize = (e: StoredEvent): RecordedEvent => ({
    stream: e.stream,
    revision: e.revision,
    position: e.position,
    type: e.type,
    data: JSON.parse(e.dataJson) as Record<string, unknown>,
    metadata: JSON.parse(e.metadataJson) as RecordedEvent['metadata'],
    recordedAt: e.recordedAt,
    hash: e.hash,
  });

  const readPage = (fromPosition: number, limit: number): RecordedEvent[] => {
    if (closed) throw storeClosed('memory');
    return log.slice(Math.max(0, fromPosition - 1), Math.max(0, fromPosition - 1) + limit).map(materialize);
  };

  const hub = new SubscriptionHub(readPage);

  const open = () => {
    if (closed) throw storeClosed('memory');
  };

  /** Checks every batch, builds every event, then stores them all: a failure leaves the store untouched. */
  const write = (batches: readonly StreamBatch[]): AppendResult[] => {
    for (const { stream, expected } of batches) {
      const actual = (streams.get(stream)?.length ?? 0) - 1;
      if (!expectedMatches(expected, actual)) throw new WrongExpectedRevisionError(stream, expected, actual);
    }
    const recordedAt = wallClock().toISOString();
    let previousHash = log.at(-1)?.hash ?? GENESIS_HASH;
    let position = log.length;
    const built: StoredEvent[][] = batches.map(({ stream, events }) => {
      const revision = (streams.get(stream)?.length ?? 0) - 1;
      return serializeEvents(stream, events).map((event, i) => {
        const fields = { stream, revision: revision + 1 + i, position: ++position, type: event.type, dataJson: event.dataJson, metadataJson: event.metadataJson };
        const hash = eventHashFromJson(previousHash, fields);
        previousHash = hash;
        return { ...fields, recordedAt, hash };
      });
    });
    const results = built.map((stored, i) => {
      const stream = batches[i]!.stream;
      const target = streams.get(stream) ?? [];
      if (!streams.has(stream)) streams.set(stream, target);
      for (const e of stored) {
        log.push(e);
        target.push(e);
      }
      const last = stored.at(-1);
      return last ? { lastRevision: last.revision, lastPosition: last.position } : { lastRevision: target.length - 1, lastPosition: target.at(-1)?.position ?? 0 };
    });
    const all = built.flat();
    if (all.length > 0) hub.publish(() => all.map(materialize));
    return results;
  };

  return {
    kind: 'memory',

    async append(stream: string, events: readonly NewEvent[], expected: ExpectedRevision): Promise<AppendResult> {
      open();
      checkAppend(stream, events, expected);
      if (events.length === 0) {
        const existing = streams.get(stream);
        const actual = existing ? existing.length - 1 : -1;
        if (!expectedMatches(expected, actual)) throw new WrongExpectedRevisionError(stream, expected, actual);
        return { lastRevision: actual, lastPosition: existing?.at(-1)?.position ?? 0 };
      }
      return write([{ stream, events, expected }])[0]!;
    },

    async appendMany(batches: readonly StreamBatch[]): Promise<AppendResult[]> {
      open();
      checkBatches(batches);
      return write(batches);
    },

    async readStream(stream: string, fromRevision?: number): Promise<RecordedEvent[]> {
      open();
      const from = readStreamArguments(stream, fromRevision);
      return (streams.get(stream) ?? []).slice(from).map(materialize);
    },

    async readAll(fromPosition?: number, limit?: number): Promise<RecordedEvent[]> {
      open();
      const { from, max } = readAllArguments(fromPosition, limit);
      return readPage(from, max);
    },

    async headPosition(): Promise<number> {
      open();
      return log.length;
    },

    subscribeAll(fromPosition?: number): Observable<RecordedEvent> {
      open();
      return hub.subscribe(checkIndex('fromPosition', fromPosition, 1));
    },

    async verify(verifyOptions: VerifyChainOptions = {}): Promise<VerifyResult> {
      open();
      return verifyChain([log.map((e) => ({ ...e }))], verifyOptions);
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      hub.completeAll();
    },
  };
}
