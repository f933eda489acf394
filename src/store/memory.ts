/**
 * The in-memory event store: the reference implementation of the port for unit tests. It keeps
 * events as canonical JSON text, as the SQLite store does, so readers get fresh objects that they
 * may mutate freely and both stores hand back exactly the same values (and hashes) for the same
 * appends.
 */
import type { Observable } from 'rxjs';
import { storeClosed, WrongExpectedRevisionError } from './errors.js';
import { eventHashFromJson, GENESIS_HASH, verifyChain, type VerifyChainOptions, type VerifyResult } from './hashChain.js';
import type { AppendResult, EventStore, ExpectedRevision, NewEvent, RecordedEvent } from './port.js';
import { SubscriptionHub } from './subscription.js';
import { checkAppend, checkIndex, expectedMatches, readAllArguments, readStreamArguments, serializeEvents } from './validation.js';

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

  return {
    kind: 'memory',

    async append(stream: string, events: readonly NewEvent[], expected: ExpectedRevision): Promise<AppendResult> {
      open();
      checkAppend(stream, events, expected);
      const existing = streams.get(stream);
      const actual = existing ? existing.length - 1 : -1;
      if (!expectedMatches(expected, actual)) throw new WrongExpectedRevisionError(stream, expected, actual);
      if (events.length === 0) {
        return { lastRevision: actual, lastPosition: existing?.at(-1)?.position ?? 0 };
      }
      // Build every event first: an event that cannot be serialised leaves the store untouched.
      const recordedAt = wallClock().toISOString();
      let previousHash = log.at(-1)?.hash ?? GENESIS_HASH;
      const built: StoredEvent[] = [];
      const serialized = serializeEvents(stream, events);
      for (let i = 0; i < serialized.length; i++) {
        const event = serialized[i]!;
        const fields = {
          stream,
          revision: actual + 1 + i,
          position: log.length + 1 + i,
          type: event.type,
          dataJson: event.dataJson,
          metadataJson: event.metadataJson,
        };
        const hash = eventHashFromJson(previousHash, fields);
        built.push({ ...fields, recordedAt, hash });
        previousHash = hash;
      }
      const target = existing ?? [];
      if (!existing) streams.set(stream, target);
      for (const e of built) {
        log.push(e);
        target.push(e);
      }
      hub.publish(() => built.map(materialize));
      const last = built.at(-1)!;
      return { lastRevision: last.revision, lastPosition: last.position };
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
