/**
 * The event store port. Every store (in-memory, SQLite, EventStoreDB) implements it and passes the
 * one contract suite in `test/store/contract.ts`.
 *
 * Conventions, the same for every store:
 * - A stream's revisions are contiguous and start at 0. `ExpectedRevision` -1 means "the stream must
 *   not exist yet"; `'any'` skips the check.
 * - Positions are global, contiguous and start at 1; `headPosition()` is 0 for an empty store.
 * - `append` is atomic: all of the given events are stored, or none. `appendMany` is atomic across
 *   streams: every batch is stored, in the order given, or none of them (one import is one write).
 * - Every stored event carries `hash`, chained to the previous event's hash by global position
 *   (see `hashChain.ts`), so `verify` can find the first tampered or missing event.
 */
import type { Observable } from 'rxjs';

export interface EventMetadata {
  /** Domain time of the fact (simulated time in a simulation), ISO-8601 UTC. */
  occurredAt: string;
  /** The command that produced the event; a retried command with the same id is a no-op. */
  commandId: string;
  correlationId: string;
  [key: string]: unknown;
}

export interface NewEvent {
  type: string;
  data: Record<string, unknown>;
  metadata: EventMetadata;
}

export interface RecordedEvent extends NewEvent {
  stream: string;
  revision: number;
  position: number;
  /** Wall-clock instant of the append (not domain time), ISO-8601 UTC. */
  recordedAt: string;
  hash: string;
}

export type ExpectedRevision = number | 'any';

export interface AppendResult {
  /** Revision of the last event now in the stream. */
  lastRevision: number;
  /** Global position of the last appended event. */
  lastPosition: number;
}

/** One stream's part of an `appendMany`. */
export interface StreamBatch {
  readonly stream: string;
  readonly events: readonly NewEvent[];
  readonly expected: ExpectedRevision;
}

export interface EventStore {
  readonly kind: string;
  append(stream: string, events: readonly NewEvent[], expected: ExpectedRevision): Promise<AppendResult>;
  /**
   * Several streams in one atomic write, each batch checked against its expected revision: all of
   * them are stored, in the order given (positions follow on), or, on any conflict or failure,
   * none. A stream may appear once only.
   */
  appendMany(batches: readonly StreamBatch[]): Promise<AppendResult[]>;
  /** Events of one stream from `fromRevision` (inclusive), in revision order; [] for an unknown stream. */
  readStream(stream: string, fromRevision?: number): Promise<RecordedEvent[]>;
  /** Up to `limit` events with position >= fromPosition, in position order. */
  readAll(fromPosition?: number, limit?: number): Promise<RecordedEvent[]>;
  /** Position of the last event, 0 when empty. */
  headPosition(): Promise<number>;
  /**
   * Every event from `fromPosition` on, exactly once and in position order: first those already
   * stored, then new ones as they are appended (by this process or, for shared stores, by others).
   */
  subscribeAll(fromPosition?: number): Observable<RecordedEvent>;
  close(): Promise<void>;
}
