/** Argument checks shared by every store, so all of them refuse the same malformed calls alike. */
import { invalidStoreArgument } from './errors.js';
import { canonicalJson } from './hashChain.js';
import type { ExpectedRevision, NewEvent, StreamBatch } from './port.js';

export function checkAppend(stream: unknown, events: unknown, expected: unknown): void {
  checkStream(stream);
  if (!(expected === 'any' || (Number.isSafeInteger(expected) && (expected as number) >= -1))) {
    throw invalidStoreArgument(
      `expected revision must be 'any' or an integer >= -1 (-1: the stream must not exist), got ${String(expected)}`,
      { stream, expected: String(expected) },
    );
  }
  if (!Array.isArray(events)) {
    throw invalidStoreArgument(`events to append to stream ${stream as string} must be an array`, { stream });
  }
  for (let i = 0; i < events.length; i++) {
    const event = events[i] as Partial<NewEvent> | null;
    const where = `event ${i} appended to stream ${stream as string}`;
    if (event === null || typeof event !== 'object') throw invalidStoreArgument(`${where} is not an object`, { stream, index: i });
    if (typeof event.type !== 'string' || event.type === '') {
      throw invalidStoreArgument(`${where} needs a non-empty string type`, { stream, index: i });
    }
    if (!isPlainObject(event.data)) {
      throw invalidStoreArgument(`${where} (${event.type}) needs an object as data`, { stream, index: i, type: event.type });
    }
    const metadata = event.metadata as Record<string, unknown> | undefined;
    if (!isPlainObject(metadata)) {
      throw invalidStoreArgument(`${where} (${event.type}) needs an object as metadata`, { stream, index: i, type: event.type });
    }
    for (const key of ['occurredAt', 'commandId', 'correlationId']) {
      if (typeof metadata[key] !== 'string') {
        throw invalidStoreArgument(`${where} (${event.type}) needs metadata.${key} as a string`, {
          stream, index: i, type: event.type, field: key,
        });
      }
    }
  }
}

export function checkStream(stream: unknown): asserts stream is string {
  if (typeof stream !== 'string' || stream === '') {
    throw invalidStoreArgument(`a stream name must be a non-empty string, got ${JSON.stringify(stream) ?? String(stream)}`);
  }
}

/** A non-negative integer (or the default when undefined). */
export function checkIndex(name: string, value: number | undefined, fallback: number, min = 0): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < min) {
    throw invalidStoreArgument(`${name} must be an integer >= ${min}, got ${String(value)}`, { [name]: String(value) });
  }
  return value;
}

/** `readStream(stream, fromRevision)`: the stream checked, the first revision (0 by default). */
export function readStreamArguments(stream: unknown, fromRevision: number | undefined): number {
  checkStream(stream);
  return checkIndex('fromRevision', fromRevision, 0);
}

/** `readAll(fromPosition, limit)`: the first position (1 by default) and the page size (`unlimited` by default). */
export function readAllArguments(fromPosition: number | undefined, limit: number | undefined, unlimited = Number.MAX_SAFE_INTEGER): { from: number; max: number } {
  return { from: checkIndex('fromPosition', fromPosition, 1), max: checkIndex('limit', limit, unlimited) };
}

export function expectedMatches(expected: ExpectedRevision, actual: number): boolean {
  return expected === 'any' || expected === actual;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** An event's data and metadata as canonical JSON text, ready to hash and store. */
export interface SerializedEvent {
  type: string;
  dataJson: string;
  metadataJson: string;
  occurredAt: string;
  commandId: string;
}

/**
 * Canonical JSON of every event of an append; an unserialisable value is a validation error. The
 * events of one command usually share one metadata object, which is then serialised once.
 */
export function serializeEvents(stream: string, events: readonly NewEvent[]): SerializedEvent[] {
  const out: SerializedEvent[] = new Array(events.length);
  let lastMetadata: unknown;
  let lastMetadataJson = '';
  for (let i = 0; i < events.length; i++) {
    const event = events[i]!;
    const metadata = event.metadata;
    const metadataJson = i > 0 && metadata === lastMetadata ? lastMetadataJson : serializePart(stream, i, event, 'metadata');
    lastMetadata = metadata;
    lastMetadataJson = metadataJson;
    out[i] = {
      type: event.type,
      dataJson: serializePart(stream, i, event, 'data'),
      metadataJson,
      occurredAt: metadata.occurredAt,
      commandId: metadata.commandId,
    };
  }
  return out;
}

function serializePart(stream: string, index: number, event: NewEvent, part: 'data' | 'metadata'): string {
  try {
    return canonicalJson(event[part]);
  } catch (error) {
    throw invalidStoreArgument(
      `event ${index} (${event.type}) appended to stream ${stream} has ${part} that cannot be stored as JSON: ${(error as Error).message}`,
      { stream, index, type: event.type, field: part },
    );
  }
}

/** The checks of `append` for every batch of an `appendMany`, and each stream once. */
export function checkBatches(batches: unknown): asserts batches is readonly StreamBatch[] {
  if (!Array.isArray(batches)) throw invalidStoreArgument('appendMany takes an array of {stream, events, expected} batches');
  const seen = new Set<string>();
  for (const batch of batches as Partial<StreamBatch>[]) {
    if (batch === null || typeof batch !== 'object') throw invalidStoreArgument('each batch of appendMany must be an object {stream, events, expected}');
    checkAppend(batch.stream, batch.events, batch.expected);
    if (seen.has(batch.stream!)) {
      throw invalidStoreArgument(`stream ${batch.stream!} appears twice in one appendMany; give each stream one batch`, { stream: batch.stream });
    }
    seen.add(batch.stream!);
  }
}
