/**
 * `subscribeAll` for stores whose reads are synchronous (in-memory, SQLite): each subscriber keeps
 * the next position it is owed and only ever emits the event at exactly that position, so delivery
 * is exactly once, in order and without gaps whatever interleaves: a catch-up read in pages (which
 * yields to the event loop between full pages), appends by this process (pushed at once through
 * `publish`), appends seen by polling (`poke`), and handlers that append from inside `next`.
 */
// The one class, not the whole library: rxjs's index loads every operator (a third of the CLI's start-up).
import { setImmediate } from 'node:timers/promises';
import { Observable } from 'rxjs/internal/Observable';
import type { Subscriber } from 'rxjs';
import type { RecordedEvent } from './port.js';

export type ReadPage = (fromPosition: number, limit: number) => RecordedEvent[];

export interface HubOptions {
  pageSize?: number;
  /** Called when the first subscriber arrives (e.g. to start polling). */
  onActive?: () => void;
  /** Called when the last subscriber leaves. */
  onIdle?: () => void;
}

interface Sub {
  next: number;
  live: boolean;
  pumping: boolean;
  dirty: boolean;
  closed: boolean;
  subscriber: Subscriber<RecordedEvent>;
}

export class SubscriptionHub {
  private readonly subs = new Set<Sub>();
  private readonly pageSize: number;

  constructor(private readonly read: ReadPage, private readonly options: HubOptions = {}) {
    this.pageSize = options.pageSize ?? 1000;
  }

  get size(): number {
    return this.subs.size;
  }

  subscribe(fromPosition: number): Observable<RecordedEvent> {
    return new Observable<RecordedEvent>((subscriber) => {
      const sub: Sub = { next: Math.max(1, fromPosition), live: false, pumping: false, dirty: false, closed: false, subscriber };
      this.subs.add(sub);
      if (this.subs.size === 1) this.options.onActive?.();
      void this.catchUp(sub);
      return () => this.drop(sub);
    });
  }

  /** Events just appended by this process, in position order. Built lazily, only if someone listens. */
  publish(events: () => RecordedEvent[]): void {
    if (this.subs.size === 0) return;
    let built: RecordedEvent[] | undefined;
    const get = () => (built ??= events());
    for (const sub of [...this.subs]) this.wake(sub, get);
  }

  /** Something may have been appended elsewhere: every live subscriber reads on from the store. */
  poke(): void {
    for (const sub of [...this.subs]) this.wake(sub, undefined);
  }

  /** Completes every subscription (the store is closing). */
  completeAll(): void {
    for (const sub of [...this.subs]) {
      this.drop(sub);
      sub.subscriber.complete();
    }
  }

  private drop(sub: Sub): void {
    if (sub.closed) return;
    sub.closed = true;
    this.subs.delete(sub);
    if (this.subs.size === 0) this.options.onIdle?.();
  }

  private fail(sub: Sub, error: unknown): void {
    if (sub.closed) return;
    this.drop(sub);
    sub.subscriber.error(error);
  }

  private emit(sub: Sub, event: RecordedEvent): void {
    if (sub.closed || event.position !== sub.next) return;
    sub.next++;
    sub.subscriber.next(event);
  }

  /** Reads one page at `sub.next` and emits it; true if the page was full (more may follow). */
  private readPage(sub: Sub): boolean {
    const page = this.read(sub.next, this.pageSize);
    for (const event of page) {
      if (sub.closed) return false;
      this.emit(sub, event);
    }
    return page.length >= this.pageSize;
  }

  private async catchUp(sub: Sub): Promise<void> {
    sub.live = false;
    try {
      for (;;) {
        if (sub.closed) return;
        sub.dirty = false;
        const full = this.readPage(sub);
        if (sub.closed) return;
        if (!full && !sub.dirty) {
          sub.live = true; // from here on, appends reach this subscriber through wake()
          return;
        }
        if (full) await setImmediate();
      }
    } catch (error) {
      this.fail(sub, error);
    }
  }

  private wake(sub: Sub, events: (() => RecordedEvent[]) | undefined): void {
    if (sub.closed) return;
    if (!sub.live || sub.pumping) {
      sub.dirty = true; // the running read loop picks it up from the store
      return;
    }
    sub.pumping = true;
    try {
      let mustRead = events === undefined;
      if (events) {
        for (const event of events()) {
          if (sub.closed) return;
          if (event.position > sub.next) {
            mustRead = true; // someone else appended in between: fetch the gap from the store
            break;
          }
          this.emit(sub, event);
        }
      }
      while ((mustRead || sub.dirty) && !sub.closed) {
        mustRead = false;
        sub.dirty = false;
        if (this.readPage(sub)) {
          // A large backlog: continue asynchronously so the event loop is not blocked.
          sub.pumping = false;
          void this.catchUp(sub);
          return;
        }
      }
    } catch (error) {
      this.fail(sub, error);
    } finally {
      sub.pumping = false;
    }
  }
}
