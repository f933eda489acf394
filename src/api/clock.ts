/**
 * The server's clock never runs behind its log. Commands are stamped with max(base clock, latest
 * occurredAt in the log): after a simulation whose log ends in 2038, new commands happen at its end
 * rather than "before" the facts already recorded, so as-of queries (the longest prefix of the log
 * that occurred at or before an instant) stay exact. On a live store the base clock (the wall clock by
 * default) is ahead of the log and wins.
 */
import type { Subscription } from 'rxjs';
import type { Clock, Instant } from '../domain/time.js';
import type { EventStore } from '../store/port.js';

/** The wall clock: the only place outside tests where rekey reads real time for domain facts. */
export function systemClock(): Clock {
  return { now: () => Date.now() };
}

export interface LogClock extends Clock {
  /** The latest occurredAt the log holds (null for an empty log). */
  logInstant(): Instant | null;
  /** The first occurredAt of the log (null for an empty log). */
  firstInstant(): Instant | null;
  stop(): void;
}

export async function logClock(store: EventStore, base: Clock): Promise<LogClock> {
  let latest: Instant | null = null;
  let first: Instant | null = null;
  const note = (occurredAt: string) => {
    const at = Date.parse(occurredAt);
    if (!Number.isFinite(at)) return;
    if (latest === null || at > latest) latest = at;
    if (first === null || at < first) first = at;
  };
  const head = await store.headPosition();
  if (head > 0) {
    const [firstEvent] = await store.readAll(1, 1);
    const [lastEvent] = await store.readAll(head, 1);
    if (firstEvent) note(firstEvent.metadata.occurredAt);
    if (lastEvent) note(lastEvent.metadata.occurredAt);
  }
  const subscription: Subscription = store.subscribeAll(head + 1).subscribe({
    next: (event) => note(event.metadata.occurredAt),
    error: () => undefined,
  });
  return {
    now: () => Math.max(base.now(), latest ?? -Infinity),
    logInstant: () => latest,
    firstInstant: () => first,
    stop: () => subscription.unsubscribe(),
  };
}
