/**
 * A dry run's copy of the state: an event store that reads through to a real store and keeps what is
 * appended to it in memory, never touching the real one (it only ever calls its read methods). The
 * engine, the projections and the forecast run on it exactly as on the store itself, so a dry run
 * decides with the engine's own rules on the very log it would append to.
 *
 * `prefix(position)` is a read-only view of the first `position` events (the state before a step).
 */
import { Observable } from 'rxjs/internal/Observable';
import { RekeyError } from '../kernel/errors.js';
import { WrongExpectedRevisionError } from '../store/errors.js';
import type { AppendResult, StreamBatch, EventStore, ExpectedRevision, NewEvent, RecordedEvent } from '../store/port.js';

export interface OverlayStore extends EventStore {
  /** Position of the real store's last event when the overlay was made. */
  readonly basePosition: number;
  /** The events appended to the overlay, in position order. */
  appended(): readonly RecordedEvent[];
  /** A read-only view of the log up to and including `position`. */
  prefix(position: number): EventStore;
}

export async function overlayStore(base: EventStore): Promise<OverlayStore> {
  const basePosition = await base.headPosition();
  const extra: RecordedEvent[] = [];
  const revisions = new Map<string, number>();

  const revisionOf = async (stream: string): Promise<number> => {
    const known = revisions.get(stream);
    if (known !== undefined) return known;
    const events = await base.readStream(stream);
    const revision = events.at(-1)?.revision ?? -1;
    revisions.set(stream, revision);
    return revision;
  };

  const readAllUpTo = async (limitPosition: number, fromPosition = 1, limit = Number.MAX_SAFE_INTEGER): Promise<RecordedEvent[]> => {
    const out: RecordedEvent[] = [];
    const last = Math.min(limitPosition, fromPosition + limit - 1);
    if (fromPosition <= Math.min(basePosition, last)) {
      out.push(...(await base.readAll(fromPosition, Math.min(basePosition, last) - fromPosition + 1)).filter((e) => e.position <= basePosition));
    }
    for (const event of extra) if (event.position >= fromPosition && event.position <= last) out.push(event);
    return out;
  };

  const readStreamUpTo = async (limitPosition: number, stream: string, fromRevision = 0): Promise<RecordedEvent[]> => {
    const own = extra.filter((e) => e.stream === stream);
    const stored = await base.readStream(stream, fromRevision);
    return [...stored.filter((e) => e.position <= basePosition), ...own.filter((e) => e.revision >= fromRevision)].filter((e) => e.position <= limitPosition);
  };

  const view = (limitPosition: () => number, kind: string): EventStore => ({
    kind,
    append: async () => {
      throw new RekeyError('STORE_READONLY', 'a dry run\'s view of the log before a step cannot be appended to', {}, 'refused');
    },
    appendMany: async () => {
      throw new RekeyError('STORE_READONLY', 'a dry run\'s view of the log before a step cannot be appended to', {}, 'refused');
    },
    readStream: (stream, fromRevision) => readStreamUpTo(limitPosition(), stream, fromRevision),
    readAll: (fromPosition, limit) => readAllUpTo(limitPosition(), fromPosition, limit),
    headPosition: async () => limitPosition(),
    // Nothing of a dry run waits for new events: the subscription delivers what there is, then completes.
    subscribeAll: (fromPosition = 1) => new Observable<RecordedEvent>((subscriber) => {
      readAllUpTo(limitPosition(), fromPosition).then((events) => {
        for (const event of events) subscriber.next(event);
        subscriber.complete();
      }, (error: unknown) => subscriber.error(error));
    }),
    close: async () => undefined,
  });

  const head = () => basePosition + extra.length;
  const append = async (stream: string, events: readonly NewEvent[], expected: ExpectedRevision): Promise<AppendResult> => {
    const actual = await revisionOf(stream);
    if (expected !== 'any' && expected !== actual) throw new WrongExpectedRevisionError(stream, expected, actual);
    const recordedAt = new Date(0).toISOString();
    events.forEach((event, i) => {
      // Round-tripped through JSON like every store does, so the copy holds what a store would.
      const copy = JSON.parse(JSON.stringify({ type: event.type, data: event.data, metadata: event.metadata })) as NewEvent;
      extra.push({ ...copy, stream, revision: actual + 1 + i, position: head() + 1, recordedAt, hash: '' });
    });
    revisions.set(stream, actual + events.length);
    return { lastRevision: actual + events.length, lastPosition: head() };
  };

  const overlay = view(head, `${base.kind}+dry-run`);
  return {
    ...overlay,
    basePosition,
    append,
    async appendMany(batches: readonly StreamBatch[]): Promise<AppendResult[]> {
      // All checked before any is kept, as a store's one transaction would.
      for (const { stream, expected } of batches) {
        const actual = await revisionOf(stream);
        if (expected !== 'any' && expected !== actual) throw new WrongExpectedRevisionError(stream, expected, actual);
      }
      const results: AppendResult[] = [];
      for (const { stream, events } of batches) results.push(await append(stream, events, 'any'));
      return results;
    },
    appended: () => extra,
    prefix: (position: number) => view(() => Math.min(position, head()), `${base.kind}+dry-run`),
  };
}
