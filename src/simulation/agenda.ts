/**
 * The simulator's agenda: things due at an instant, taken in the same-instant order of docs/model.md
 * (session edges, then joins and check-ins, then runs, then scenario actions in file order). A binary min-heap, so a fleet of thousands of machines costs log n per step.
 */
import { MinHeap } from '../kernel/minHeap.js';

export const RANK = { sessionEdge: 1, join: 2, checkIn: 3, createConnection: 4, run: 5, action: 6 } as const;

export interface Entry<T> {
  readonly at: number;
  readonly rank: number;
  /** Tie-breaker within an instant and rank: file order, or name order. */
  readonly order: number;
  readonly item: T;
}

export class Agenda<T> extends MinHeap<Entry<T>> {
  constructor() {
    super(before);
  }
}

function before<T>(a: Entry<T>, b: Entry<T>): boolean {
  return (a.at - b.at || a.rank - b.rank || a.order - b.order) < 0;
}
