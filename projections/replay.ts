/** Feeding events from a store into a projection, in pages, up to a position or an instant. */
import type { Instant } from '../src/domain/time.js';
import type { EventStore, RecordedEvent } from '../src/store/port.js';
import type { ChangeSink, Projection } from './projection.js';

export interface ReplayLimit {
  /** Apply events up to this position (inclusive). */
  readonly position?: number;
  /** Apply events until the first one that occurred after this instant. */
  readonly instant?: Instant;
}

export const DEFAULT_PAGE_SIZE = 5_000;
const INSTANT_PAGE_SIZE = 500;

/**
 * Applies the store's events after `projection.position` up to the limit. Events are assumed to be
 * recorded in non-decreasing `occurredAt` order, as the engine records them; "as of instant t" is
 * the longest prefix of the log whose events occurred at or before t.
 */
export async function replayInto(
  store: EventStore,
  projection: Projection,
  limit: ReplayLimit = {},
  options: { pageSize?: number; sink?: ChangeSink; onPage?: (last: RecordedEvent) => void | Promise<void> } = {},
): Promise<void> {
  const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
  // Up to an instant the end is unknown: small pages, so that a short replay from a snapshot does not
  // read (and parse) much of a page it will not use.
  const step = limit.instant === undefined ? pageSize : Math.min(pageSize, INSTANT_PAGE_SIZE);
  for (;;) {
    const from = projection.position + 1;
    if (limit.position !== undefined && from > limit.position) return;
    const size = limit.position === undefined ? step : Math.min(step, limit.position - from + 1);
    const page = await store.readAll(from, size);
    for (const event of page) {
      if (limit.instant !== undefined && Date.parse(event.metadata.occurredAt) > limit.instant) return;
      projection.apply(event, options.sink);
    }
    const last = page[page.length - 1];
    if (last && options.onPage) await options.onPage(last);
    if (page.length < size) return;
  }
}
