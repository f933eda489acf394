/**
 * Between the domain's timed facts and the store's records. Domain time travels in the metadata
 * (`occurredAt`), apart from the store's own append time. Old shapes of an event are upcast here on
 * read, by type name, and never rewritten in the log.
 */
import { RekeyError, errorKind } from '../kernel/errors.js';
import type { DomainEvent, Timed } from './events.js';
import { toIso } from './time.js';

/**
 * What the codec needs of a store's records, stated here so that the domain depends on no store:
 * the store port's `NewEvent` and `RecordedEvent` have exactly these shapes (and more).
 */
export interface EncodedEvent {
  type: string;
  data: Record<string, unknown>;
  metadata: { occurredAt: string; commandId: string; correlationId: string };
}
export interface StoredEvent {
  readonly type: string;
  readonly data: Record<string, unknown>;
  readonly metadata: { readonly occurredAt: string };
  readonly position: number;
}

export const EVENT_UNREADABLE = errorKind('EVENT_UNREADABLE', 'integrity');

export interface CommandContext {
  readonly commandId: string;
  readonly correlationId: string;
  /** Who issued the command, when known (an actor id such as `token:tk_…`, never a credential). */
  readonly actor?: string;
}

export function toNewEvent(event: Timed<DomainEvent>, context: CommandContext): EncodedEvent {
  return {
    type: event.type,
    data: event.data as unknown as Record<string, unknown>,
    metadata: { occurredAt: toIso(event.at), commandId: context.commandId, correlationId: context.correlationId, ...(context.actor !== undefined ? { actor: context.actor } : {}) },
  };
}

type Upcaster = (data: Record<string, unknown>) => Record<string, unknown>;
/** Upcasters by event type, applied in order. */
const UPCASTERS: Partial<Record<string, Upcaster[]>> = {
  // MachineRejoined v1 had no `status`: every rejoin then left the machine Default.
  MachineRejoined: [(data) => ('status' in data ? data : { ...data, status: 1 })],
};

/** The last occurredAt read and its instant: the events of one command share it, and a replay reads millions. */
let lastOccurredAt: string | undefined;
let lastAt = Number.NaN;

export function toDomainEvent(recorded: StoredEvent): Timed<DomainEvent> {
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
  const upcasters = UPCASTERS[recorded.type];
  if (upcasters !== undefined) for (const upcast of upcasters) data = upcast(data);
  return { type: recorded.type, data, at } as Timed<DomainEvent>;
}
