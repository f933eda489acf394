/**
 * The scheduler's agenda: each group's next due time in a binary min-heap, so that finding what is
 * due costs the number of due groups (times log n), not a walk over every group at every command.
 * Entries are replaced, never updated: a group that changes gets a new entry with its new revision,
 * and entries whose revision is no longer the group's are dropped when they surface (or when the
 * heap has grown to twice what is live, all at once).
 */
import type { Instant } from '../domain/time.js';

export interface DueEntry {
  readonly at: Instant;
  readonly stream: string;
  /** The group's revision the due time was computed at. */
  readonly revision: number;
  /** Ties at one instant go in the order the groups first appeared in the log. */
  readonly order: number;
}

const before = (a: DueEntry, b: DueEntry) => a.at < b.at || (a.at === b.at && a.order < b.order);

export class DueQueue {
  private heap: DueEntry[] = [];

  get size(): number {
    return this.heap.length;
  }

  push(entry: DueEntry): void {
    const heap = this.heap;
    heap.push(entry);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  /** The earliest entry for which `live` holds, dropping the stale ones above it. */
  peek(live: (entry: DueEntry) => boolean): DueEntry | undefined {
    while (this.heap.length > 0 && !live(this.heap[0]!)) this.pop();
    return this.heap[0];
  }

  pop(): DueEntry | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length > 0 && last !== undefined) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let least = i;
        if (left < heap.length && before(heap[left]!, heap[least]!)) least = left;
        if (right < heap.length && before(heap[right]!, heap[least]!)) least = right;
        if (least === i) break;
        [heap[i], heap[least]] = [heap[least]!, heap[i]!];
        i = least;
      }
    }
    return top;
  }

  /** Keeps only the entries for which `live` holds (when stale ones pile up). */
  compact(live: (entry: DueEntry) => boolean): void {
    const kept = this.heap.filter(live);
    this.heap = [];
    for (const entry of kept) this.push(entry);
  }
}
