/**
 * Pure pieces of the EventStoreDB store (src/store/eventstoredb.ts), kept apart so that they can be
 * tested without a server: deterministic event ids, the metadata envelope our events carry in ESDB,
 * and the decoding of a log entry back into a `RecordedEvent`.
 *
 * Every rekey event is one ESDB event in the log stream (`<prefix>log`). Its ESDB revision r is our
 * position r + 1. Its ESDB metadata is
 *
 *   {
 *     "occurredAt": ..., "commandId": ..., "correlationId": ...,        (for ESDB's own tools: UI, projections)
 *     "$correlationId": correlationId, "$causationId": commandId,       (ESDB's conventions)
 *     "rekey": { "v": 1, "stream", "revision", "position", "hash", "recordedAt",
 *                "metadata": { the event's own metadata, exactly as appended } }
 *   }
 *
 * The top-level copies are for people and ESDB tooling; the store reads only `rekey`, so an event's
 * metadata round-trips exactly whatever keys it holds (even one called `rekey`).
 */
import { createHash } from 'node:crypto';
import { RekeyError } from '../../kernel/errors.js';
import { STORE_CORRUPT } from '../errors.js';
import { canonicalJson, type StoredChainLink } from '../hashChain.js';
import type { EventMetadata, RecordedEvent } from '../port.js';

/** Version of the envelope below; a reader refuses an envelope it does not know. */
export const ENVELOPE_VERSION = 1;

/** Namespace of rekey's event ids (a random UUID, fixed forever: changing it changes every id). */
export const EVENT_ID_NAMESPACE = '6f1c7a52-3d4e-4b8a-9c0d-2e5f7a9b1c3d';

export const DEFAULT_STREAM_PREFIX = 'rekey-';

export function logStreamName(prefix: string): string {
  return `${prefix}log`;
}

/**
 * The ESDB event id of the `index`-th event (0-based) of an append to `stream` by command
 * `commandId`: an RFC 4122 version 5 UUID (SHA-1, name-based) of the name `stream:commandId:index`
 * in rekey's namespace. The same command appending the same batch again gets the same ids, which
 * is what lets an append whose response was lost be recognised (by us, and by ESDB's own
 * idempotence check) instead of being written twice. The logical stream is part of the name because a caller may reuse one command id
 * for events of different streams.
 */
export function eventIdFor(stream: string, commandId: string, index: number): string {
  return uuidV5(EVENT_ID_NAMESPACE, `${stream}:${commandId}:${index}`);
}

/** RFC 4122 version 5 (name-based, SHA-1) UUID of `name` in `namespace`. */
export function uuidV5(namespace: string, name: string): string {
  const digest = createHash('sha1').update(Buffer.from(namespace.replace(/-/g, ''), 'hex')).update(name, 'utf8').digest();
  const bytes = digest.subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x50;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** What the store records about an event besides its type, data and metadata. */
export interface Bookkeeping {
  stream: string;
  revision: number;
  position: number;
  hash: string;
  recordedAt: string;
}

export interface Envelope {
  v: number;
  stream: string;
  revision: number;
  position: number;
  hash: string;
  recordedAt: string;
  metadata: EventMetadata;
}

/** The ESDB metadata of one of our events. `metadata` is the event's own, already canonical (parsed from its canonical JSON). */
export function encodeMetadata(metadata: EventMetadata, book: Bookkeeping): Record<string, unknown> {
  const envelope: Envelope = { v: ENVELOPE_VERSION, ...book, metadata };
  return {
    occurredAt: metadata.occurredAt,
    commandId: metadata.commandId,
    correlationId: metadata.correlationId,
    $correlationId: metadata.correlationId,
    $causationId: metadata.commandId,
    rekey: envelope,
  };
}

/** The parts of an ESDB recorded event that decoding needs (structurally `RecordedEvent` of the client). */
export interface LogEntry {
  id: string;
  streamId: string;
  revision: bigint;
  type: string;
  isJson: boolean;
  data: unknown;
  metadata: unknown;
}

export interface DecodedEntry {
  event: RecordedEvent;
  /** The ESDB event id. */
  id: string;
  /** Set when the entry is readable but inconsistent (its recorded position is not its place in the log). */
  problem?: string;
}

function unreadable(entry: LogEntry, reason: string): RekeyError {
  return new RekeyError(
    STORE_CORRUPT,
    `EventStoreDB stream ${entry.streamId} is not a readable rekey event log: its event at revision ${entry.revision} (${entry.id}) ${reason}`,
    { stream: entry.streamId, revision: String(entry.revision), id: entry.id, reason },
  );
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Uint8Array);

/**
 * A log entry as our event. The position is the entry's place in the log (revision + 1): that is
 * the truth of the order, and an envelope that claims another position is reported as a `problem`,
 * which `verify` turns into a tampered link.
 */
export function decodeEntry(entry: LogEntry): DecodedEntry {
  if (!entry.isJson || !isObject(entry.data)) throw unreadable(entry, 'has no JSON object as data');
  if (!isObject(entry.metadata)) throw unreadable(entry, 'has no JSON metadata');
  const envelope = entry.metadata['rekey'];
  if (!isObject(envelope)) throw unreadable(entry, 'carries no rekey envelope in its metadata (written by another tool?)');
  if (envelope['v'] !== ENVELOPE_VERSION) {
    throw unreadable(entry, `has envelope version ${JSON.stringify(envelope['v'])}; this rekey reads version ${ENVELOPE_VERSION}: upgrade rekey`);
  }
  const { stream, revision, position, hash, recordedAt, metadata } = envelope;
  if (typeof stream !== 'string' || stream === '' || !Number.isSafeInteger(revision) || !Number.isSafeInteger(position) ||
      typeof hash !== 'string' || typeof recordedAt !== 'string' || !isObject(metadata)) {
    throw unreadable(entry, 'has a malformed rekey envelope');
  }
  const logPosition = Number(entry.revision) + 1;
  const event: RecordedEvent = {
    stream,
    revision: revision as number,
    position: logPosition,
    type: entry.type,
    data: entry.data,
    metadata: metadata as EventMetadata,
    recordedAt,
    hash,
  };
  return position === logPosition
    ? { event, id: entry.id }
    : { event, id: entry.id, problem: `event at position ${logPosition} (ESDB revision ${entry.revision}) records position ${String(position)} in its envelope` };
}

/** A decoded entry as a chain link for `verifyChain`: data and metadata as canonical JSON. */
export function toChainLink(decoded: DecodedEntry): StoredChainLink {
  const { event, problem } = decoded;
  return {
    stream: event.stream,
    revision: event.revision,
    position: event.position,
    type: event.type,
    dataJson: canonicalJson(event.data),
    metadataJson: canonicalJson(event.metadata),
    hash: event.hash,
    ...(problem === undefined ? {} : { problem }),
  };
}
