/**
 * The simulator's agenda: things due at an instant, taken in the same-instant order of docs/model.md
 * (session edges, then joins and check-ins, then runs, then scenario actions in file order). A binary min-heap, so a fleet of thousands of machines costs log n per step.
 */
export const RANK = { sessionEdge: 1, join: 2, checkIn: 3, createConnection: 4, run: 5, action: 6 } as const;

export interface Entry<T> {
  readonly at: number;
  readonly rank: number;
  /** Tie-breaker within an instant and rank: file order, or name order. */
  readonly order: number;
  readonly item: T;
}

export class Agenda<T> {
  private readonly heap: Entry<T>[] = [];

  get size(): number {
    return this.heap.length;
  }

  push(entry: Entry<T>): void {
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

  peek(): Entry<T> | undefined {
    return this.heap[0];
  }

  pop(): Entry<T> | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length > 0 && last) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < heap.length && before(heap[left]!, heap[smallest]!)) smallest = left;
        if (right < heap.length && before(heap[right]!, heap[smallest]!)) smallest = right;
        if (smallest === i) break;
        [heap[i], heap[smallest]] = [heap[smallest]!, heap[i]!];
        i = smallest;
      }
    }
    return top;
  }
}

function before<T>(a: Entry<T>, b: Entry<T>): boolean {
  return (a.at - b.at || a.rank - b.rank || a.order - b.order) < 0;
}
