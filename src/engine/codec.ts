/**
 * Between the domain's timed facts and the store's records. Domain time travels in the metadata
 * (`occurredAt`), apart from the store's own append time. Old shapes of an event are upcast here on
 * read, by type name, and never rewritten in the log.
 */
import type { DomainEvent, Timed } from '../domain/events.js';
import { RekeyError, errorKind } from '../domain/errors.js';
import { toIso } from '../domain/time.js';
import type { NewEvent, RecordedEvent } from '../store/port.js';

export const EVENT_UNREADABLE = errorKind('EVENT_UNREADABLE', 'integrity');

export interface CommandContext {
  readonly commandId: string;
  readonly correlationId: string;
}

export function toNewEvent(event: Timed<DomainEvent>, context: CommandContext): NewEvent {
  return {
    type: event.type,
    data: event.data as unknown as Record<string, unknown>,
    metadata: { occurredAt: toIso(event.at), commandId: context.commandId, correlationId: context.correlationId },
  };
}

type Upcaster = (data: Record<string, unknown>) => Record<string, unknown>;
/** Upcasters by event type, applied in order. None are needed yet: every shape is version 1. */
const UPCASTERS: Partial<Record<string, Upcaster[]>> = {};

/** The last occurredAt read and its instant: the events of one command share it, and a replay reads millions. */
let lastOccurredAt: string | undefined;
let lastAt = Number.NaN;

export function toDomainEvent(recorded: RecordedEvent): Timed<DomainEvent> {
  const occurredAt = recorded.metadata.occurredAt;
  if (occurredAt !== lastOccurredAt) {
    lastAt = Date.parse(occurredAt);
    lastOccurredAt = typeof occurredAt === 'string' ? occurredAt : undefined;
  }
  const at = lastAt;
  if (!Number.isFinite(at)) {
    throw new RekeyError(EVENT_UNREADABLE, `event at position ${recorded.position} has occurredAt ${JSON.stringify(recorded.metadata.occurredAt)}, which is not an ISO-8601 instant`, { position: recorded.position });
  }
  let data = recorded.data;
  for (const upcast of UPCASTERS[recorded.type] ?? []) data = upcast(data);
  return { type: recorded.type, data, at } as Timed<DomainEvent>;
}
