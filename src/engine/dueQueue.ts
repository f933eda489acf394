/**
 * The scheduler's agenda: each group's next due time in a min-heap, so that finding what is due
 * costs the number of due groups (times log n), not a walk over every group at every command.
 * Entries are replaced, never updated: a group that changes gets a new entry with its new revision,
 * and entries whose revision is no longer the group's are dropped when they surface (or, when the
 * heap has grown to twice what is live, all at once).
 */
import type { Instant } from '../domain/time.js';
import { MinHeap } from '../kernel/minHeap.js';

export interface DueEntry {
  readonly at: Instant;
  readonly stream: string;
  /** The group's revision the due time was computed at. */
  readonly revision: number;
  /** Ties at one instant go in the order the groups first appeared in the log. */
  readonly order: number;
}

export class DueQueue extends MinHeap<DueEntry> {
  constructor() {
    super((a, b) => a.at < b.at || (a.at === b.at && a.order < b.order));
  }

  /** The earliest entry for which `live` holds, dropping the stale ones above it. */
  earliest(live: (entry: DueEntry) => boolean): DueEntry | undefined {
    for (let top = this.peek(); top !== undefined; top = this.peek()) {
      if (live(top)) return top;
      this.pop();
    }
    return undefined;
  }
}
