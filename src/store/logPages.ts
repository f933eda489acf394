/** Reading a whole log (or the rest of it) page by page, the one way every reader of the store does it. */
import type { EventStore, RecordedEvent } from './port.js';

export const LOG_PAGE_SIZE = 5_000;

/** The pages of the log from `fromPosition` on, in position order; a caller may stop at any page. */
export async function* logPages(store: EventStore, fromPosition = 1, pageSize = LOG_PAGE_SIZE): AsyncGenerator<readonly RecordedEvent[]> {
  for (let from = fromPosition; ; ) {
    const page = await store.readAll(from, pageSize);
    if (page.length > 0) yield page;
    if (page.length < pageSize) return;
    from = page[page.length - 1]!.position + 1;
  }
}

/** Every event of a store, in position order. */
export async function readWholeLog(store: EventStore): Promise<RecordedEvent[]> {
  const events: RecordedEvent[] = [];
  for await (const page of logPages(store)) events.push(...page);
  return events;
}
