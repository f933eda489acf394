/**
 * The one contract every EventStore passes (src/store/port.ts). Each case gets a fresh, empty store
 * from `factory`; `cleanup` (after `close`) removes whatever the factory created.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Observable, Subscription } from 'rxjs';
import { isRekeyError } from '../../src/kernel/errors.js';
import { WrongExpectedRevisionError } from '../../src/store/errors.js';
import { eventHash, GENESIS_HASH, verifyChain } from '../../src/store/hashChain.js';
import type { EventStore, NewEvent, RecordedEvent } from '../../src/store/port.js';

let commandCounter = 0;

export function ev(type: string, data: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): NewEvent {
  commandCounter++;
  return {
    type,
    data,
    metadata: {
      occurredAt: new Date(Date.UTC(2030, 0, 1, 0, commandCounter)).toISOString(),
      commandId: `cmd-${commandCounter}`,
      correlationId: `corr-${commandCounter}`,
      ...extra,
    },
  };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function waitFor(condition: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
}

/** Subscribes and records everything; `stop()` unsubscribes. */
export function record(observable: Observable<RecordedEvent>) {
  const events: RecordedEvent[] = [];
  let error: unknown;
  let completed = false;
  const subscription: Subscription = observable.subscribe({
    next: (e) => events.push(e),
    error: (e: unknown) => (error = e),
    complete: () => (completed = true),
  });
  return {
    events,
    positions: () => events.map((e) => e.position),
    get error() {
      return error;
    },
    get completed() {
      return completed;
    },
    until: (count: number, timeoutMs?: number) =>
      waitFor(() => events.length >= count || error !== undefined, timeoutMs, `${count} events (have ${events.length})`),
    stop: () => subscription.unsubscribe(),
  };
}

export const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

function expectWrongRevision(error: unknown, expected: number | 'any', actual: number, stream: string) {
  expect(error).toBeInstanceOf(WrongExpectedRevisionError);
  const e = error as WrongExpectedRevisionError;
  expect(e.code).toBe('WRONG_EXPECTED_REVISION');
  expect(e.kind).toBe('conflict');
  expect(e.expected).toBe(expected);
  expect(e.actual).toBe(actual);
  expect(e.stream).toBe(stream);
  expect(e.details).toMatchObject({ stream, expected, actual });
}

async function catchError(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail');
}

export function runEventStoreContract(
  name: string,
  factory: () => Promise<EventStore>,
  cleanup?: (store: EventStore) => Promise<void>,
): void {
  describe(`EventStore contract: ${name}`, () => {
    const opened: EventStore[] = [];
    const fresh = async () => {
      const store = await factory();
      opened.push(store);
      return store;
    };

    afterEach(async () => {
      for (const store of opened.splice(0)) {
        await store.close();
        await cleanup?.(store);
      }
    });

    it('appends to a new stream with expected revision -1', async () => {
      const store = await fresh();
      expect(await store.headPosition()).toBe(0);
      const result = await store.append('group-1', [ev('GroupCreated', { name: 'g1' })], -1);
      expect(result).toEqual({ lastRevision: 0, lastPosition: 1 });
      const [event, ...rest] = await store.readStream('group-1');
      expect(rest).toEqual([]);
      expect(event).toMatchObject({ stream: 'group-1', revision: 0, position: 1, type: 'GroupCreated', data: { name: 'g1' } });
    });

    it('gives a stream contiguous revisions from 0', async () => {
      const store = await fresh();
      expect(await store.append('s', [ev('A'), ev('B')], -1)).toEqual({ lastRevision: 1, lastPosition: 2 });
      expect(await store.append('s', [ev('C'), ev('D'), ev('E')], 1)).toEqual({ lastRevision: 4, lastPosition: 5 });
      expect(await store.append('s', [ev('F')], 'any')).toEqual({ lastRevision: 5, lastPosition: 6 });
      const events = await store.readStream('s');
      expect(events.map((e) => e.revision)).toEqual(range(0, 5));
      expect(events.map((e) => e.type)).toEqual(['A', 'B', 'C', 'D', 'E', 'F']);
    });

    it('gives global positions contiguous from 1 across streams', async () => {
      const store = await fresh();
      await store.append('a', [ev('A0')], -1);
      await store.append('b', [ev('B0'), ev('B1')], -1);
      await store.append('a', [ev('A1')], 0);
      await store.append('c', [ev('C0')], 'any');
      await store.append('b', [ev('B2')], 1);
      const all = await store.readAll();
      expect(all.map((e) => e.position)).toEqual(range(1, 6));
      expect(all.map((e) => `${e.stream}:${e.revision}:${e.type}`)).toEqual([
        'a:0:A0', 'b:0:B0', 'b:1:B1', 'a:1:A1', 'c:0:C0', 'b:2:B2',
      ]);
      expect(await store.headPosition()).toBe(6);
      expect((await store.readStream('b')).map((e) => e.position)).toEqual([2, 3, 6]);
    });

    it('refuses a wrong expected revision with the expected and actual revision', async () => {
      const store = await fresh();
      await store.append('s', [ev('A'), ev('B')], -1); // at revision 1
      expectWrongRevision(await catchError(store.append('s', [ev('X')], 0)), 0, 1, 's');
      expectWrongRevision(await catchError(store.append('s', [ev('X')], 5)), 5, 1, 's');
      // -1 means "must not exist", and it does
      expectWrongRevision(await catchError(store.append('s', [ev('X')], -1)), -1, 1, 's');
      // an unknown stream is at -1
      expectWrongRevision(await catchError(store.append('nobody', [ev('X')], 0)), 0, -1, 'nobody');
      expect(await store.headPosition()).toBe(2);
      expect(await store.readStream('nobody')).toEqual([]);
      expect((await store.append('s', [ev('C')], 1)).lastPosition).toBe(3);
    });

    it('appends atomically: a failing append stores nothing', async () => {
      const store = await fresh();
      await store.append('s', [ev('A')], -1);
      // a conflict with several events
      await expect(store.append('s', [ev('X'), ev('Y'), ev('Z')], -1)).rejects.toBeInstanceOf(WrongExpectedRevisionError);
      // the third event cannot be serialised
      const error = await catchError(store.append('s', [ev('X'), ev('Y'), ev('Z', { n: 1n })], 0));
      expect(isRekeyError(error, 'STORE_INVALID_ARGUMENT')).toBe(true);
      // the second event is malformed
      const malformed = { type: '', data: {}, metadata: ev('M').metadata } as NewEvent;
      expect(isRekeyError(await catchError(store.append('s', [ev('X'), malformed], 0)), 'STORE_INVALID_ARGUMENT')).toBe(true);
      expect(await store.headPosition()).toBe(1);
      expect((await store.readAll()).map((e) => e.type)).toEqual(['A']);
      expect(await store.append('s', [ev('B'), ev('C')], 0)).toEqual({ lastRevision: 2, lastPosition: 3 });
      expect((await verifyChain([await store.readAll()])).ok).toBe(true);
    });

    it('appendMany writes several streams as one: every batch in order, positions following on', async () => {
      const store = await fresh();
      await store.append('a', [ev('A0')], -1);
      const live = record(store.subscribeAll());
      const results = await store.appendMany([
        { stream: 'import', events: [ev('StateImported')], expected: -1 },
        { stream: 'a', events: [ev('A1'), ev('A2')], expected: 0 },
        { stream: 'b', events: [ev('B0')], expected: 'any' },
      ]);
      expect(results).toEqual([
        { lastRevision: 0, lastPosition: 2 },
        { lastRevision: 2, lastPosition: 4 },
        { lastRevision: 0, lastPosition: 5 },
      ]);
      const all = await store.readAll();
      expect(all.map((e) => `${e.position}:${e.stream}:${e.revision}:${e.type}`)).toEqual(['1:a:0:A0', '2:import:0:StateImported', '3:a:1:A1', '4:a:2:A2', '5:b:0:B0']);
      expect((await verifyChain([all])).ok).toBe(true);
      await live.until(5);
      expect(live.positions()).toEqual(range(1, 5));
      live.stop();
      expect(await store.appendMany([])).toEqual([]);
    });

    it('appendMany is all or nothing: a conflict or a bad event in any batch stores none of them', async () => {
      const store = await fresh();
      await store.append('a', [ev('A0')], -1);
      const conflict = await catchError(store.appendMany([
        { stream: 'b', events: [ev('B0')], expected: -1 },
        { stream: 'a', events: [ev('A1')], expected: -1 },
      ]));
      expectWrongRevision(conflict, -1, 0, 'a');
      const unserialisable = await catchError(store.appendMany([
        { stream: 'b', events: [ev('B0')], expected: -1 },
        { stream: 'c', events: [ev('C0'), ev('C1', { n: 1n })], expected: -1 },
      ]));
      expect(isRekeyError(unserialisable, 'STORE_INVALID_ARGUMENT')).toBe(true);
      const twice = await catchError(store.appendMany([
        { stream: 'b', events: [ev('B0')], expected: -1 },
        { stream: 'b', events: [ev('B1')], expected: 0 },
      ]));
      expect(isRekeyError(twice, 'STORE_INVALID_ARGUMENT')).toBe(true);
      expect((twice as Error).message).toContain('stream b appears twice');
      expect(await store.headPosition()).toBe(1);
      expect(await store.readStream('b')).toEqual([]);
      expect(await store.appendMany([{ stream: 'b', events: [ev('B0')], expected: -1 }])).toEqual([{ lastRevision: 0, lastPosition: 2 }]);
    });

    it('checks the expected revision of an empty append and stores nothing', async () => {
      const store = await fresh();
      expect(await store.append('s', [], -1)).toEqual({ lastRevision: -1, lastPosition: 0 });
      await store.append('other', [ev('O')], -1);
      await store.append('s', [ev('A'), ev('B')], -1);
      expect(await store.append('s', [], 1)).toEqual({ lastRevision: 1, lastPosition: 3 });
      expectWrongRevision(await catchError(store.append('s', [], 0)), 0, 1, 's');
      expect(await store.headPosition()).toBe(3);
    });

    it('refuses malformed arguments with STORE_INVALID_ARGUMENT', async () => {
      const store = await fresh();
      const invalid = async (p: Promise<unknown>) => {
        const error = await catchError(p);
        expect(isRekeyError(error, 'STORE_INVALID_ARGUMENT')).toBe(true);
        expect((error as { kind: string }).kind).toBe('validation');
      };
      await invalid(store.append('', [ev('A')], -1));
      await invalid(store.append('s', [ev('A')], 1.5));
      await invalid(store.append('s', [ev('A')], -2));
      await invalid(store.append('s', [{ type: 'A', data: {}, metadata: { occurredAt: 'x' } } as unknown as NewEvent], -1));
      await invalid(store.readAll(-1));
      await invalid(store.readAll(1, -5));
      await invalid(store.readStream('s', -1));
      expect(await store.headPosition()).toBe(0);
    });

    it('reads a stream from a revision', async () => {
      const store = await fresh();
      await store.append('s', [ev('A'), ev('B'), ev('C')], -1);
      await store.append('t', [ev('T')], -1);
      await store.append('s', [ev('D'), ev('E')], 2);
      expect((await store.readStream('s', 2)).map((e) => [e.revision, e.type])).toEqual([[2, 'C'], [3, 'D'], [4, 'E']]);
      expect((await store.readStream('s', 4)).map((e) => e.type)).toEqual(['E']);
      expect(await store.readStream('s', 5)).toEqual([]);
      expect(await store.readStream('unknown')).toEqual([]);
      expect((await store.readStream('s')).length).toBe(5);
    });

    it('reads all events in pages', async () => {
      const store = await fresh();
      for (let i = 0; i < 10; i++) await store.append(`s${i % 3}`, [ev(`E${i}`)], 'any');
      const pages: number[][] = [];
      let from = 1;
      for (;;) {
        const page = await store.readAll(from, 3);
        if (page.length === 0) break;
        pages.push(page.map((e) => e.position));
        from = page[page.length - 1]!.position + 1;
      }
      expect(pages).toEqual([[1, 2, 3], [4, 5, 6], [7, 8, 9], [10]]);
      expect((await store.readAll(5)).map((e) => e.position)).toEqual(range(5, 10));
      expect((await store.readAll()).map((e) => e.type)).toEqual(range(0, 9).map((i) => `E${i}`));
      expect(await store.readAll(1, 0)).toEqual([]);
      expect(await store.readAll(11)).toEqual([]);
    });

    it('reports the head position', async () => {
      const store = await fresh();
      expect(await store.headPosition()).toBe(0);
      await store.append('a', [ev('A'), ev('B')], -1);
      expect(await store.headPosition()).toBe(2);
      await store.append('b', [ev('C')], -1);
      expect(await store.headPosition()).toBe(3);
    });

    it('subscribeAll delivers stored then live events exactly once, in order', async () => {
      const store = await fresh();
      await store.append('a', [ev('A0'), ev('A1')], -1);
      await store.append('b', [ev('B0')], -1);
      const sub = record(store.subscribeAll());
      await sub.until(3);
      await store.append('a', [ev('A2')], 1);
      await store.append('c', [ev('C0'), ev('C1')], -1);
      await sub.until(6);
      await sleep(50);
      expect(sub.positions()).toEqual(range(1, 6));
      expect(sub.events.map((e) => e.type)).toEqual(['A0', 'A1', 'B0', 'A2', 'C0', 'C1']);
      expect(sub.events).toEqual(await store.readAll());
      sub.stop();
    });

    it('subscribeAll from a position serves a late subscriber, then live events', async () => {
      const store = await fresh();
      for (let i = 0; i < 5; i++) await store.append('s', [ev(`E${i}`)], i - 1);
      const late = record(store.subscribeAll(4));
      await late.until(2);
      await store.append('s', [ev('E5')], 4);
      await late.until(3);
      await sleep(50);
      expect(late.positions()).toEqual([4, 5, 6]);
      const beyond = record(store.subscribeAll(10));
      await store.append('s', [ev('E6')], 5);
      await sleep(50);
      expect(beyond.events).toEqual([]);
      for (let i = 7; i <= 10; i++) await store.append('s', [ev(`E${i}`)], i - 1);
      await beyond.until(2);
      await sleep(50);
      expect(beyond.positions()).toEqual([10, 11]);
      expect(late.positions()).toEqual(range(4, 11));
      late.stop();
      beyond.stop();
    });

    it('subscribeAll stays exactly once while appends race its catch-up', async () => {
      const store = await fresh();
      // more than one catch-up page (stores page by 1000 or less)
      const batch = (n: number, tag: string) => Array.from({ length: n }, (_, i) => ev(`${tag}${i}`));
      for (let i = 0; i < 25; i++) await store.append(`s${i % 4}`, batch(100, 'P'), 'any');
      const sub = record(store.subscribeAll());
      // appends interleaved with the catch-up, including appends from inside the handler
      let reentrant = 0;
      const inner = store.subscribeAll(2_400).subscribe(() => {
        if (reentrant < 5) {
          reentrant++;
          void store.append('reentrant', [ev('R')], 'any');
        }
      });
      const racing = Array.from({ length: 20 }, (_, i) => store.append(`race${i % 3}`, batch(7, 'Q'), 'any'));
      await Promise.all(racing);
      const total = 2_500 + 20 * 7 + 5;
      await sub.until(total, 20_000);
      await waitFor(() => reentrant === 5);
      await sub.until(total, 20_000);
      await sleep(100);
      expect(sub.events.length).toBe(total);
      expect(sub.positions()).toEqual(range(1, total));
      expect(await store.headPosition()).toBe(total);
      inner.unsubscribe();
      sub.stop();
    });

    it('completes subscriptions on close and refuses calls afterwards', async () => {
      const store = await factory();
      await store.append('s', [ev('A')], -1);
      const sub = record(store.subscribeAll());
      await sub.until(1);
      await store.close();
      expect(sub.completed).toBe(true);
      expect(isRekeyError(await catchError(store.append('s', [ev('B')], 0)), 'STORE_CLOSED')).toBe(true);
      expect(isRekeyError(await catchError(store.readAll()), 'STORE_CLOSED')).toBe(true);
      await store.close(); // idempotent
      await cleanup?.(store);
    });

    it('chains every event by hash, and the chain verifies', async () => {
      const store = await fresh();
      await store.append('a', [ev('A0', { x: 1 }), ev('A1', { y: [1, 2, { z: null }] })], -1);
      await store.append('b', [ev('B0', { text: 'ünïcødé ✓', nested: { b: 2, a: 1 } })], -1);
      await store.append('a', [ev('A2')], 1);
      const all = await store.readAll();
      let previous = GENESIS_HASH;
      for (const e of all) {
        expect(e.hash).toMatch(/^[0-9a-f]{64}$/);
        expect(e.hash).toBe(eventHash(previous, e));
        previous = e.hash;
      }
      expect(new Set(all.map((e) => e.hash)).size).toBe(all.length);
      expect(await verifyChain([all])).toEqual({ ok: true, checked: 4, headHash: previous, headPosition: 4 });
      expect(await verifyChain([all], { expectHead: previous })).toMatchObject({ ok: true });
      expect(await verifyChain([all], { expectHead: all[1]!.hash })).toMatchObject({ ok: true }); // the log grew since
      // a changed copy, a gap and a cut-off end are each found
      const tampered = all.map((e) => ({ ...e, data: { ...e.data } }));
      tampered[2]!.data['text'] = 'changed';
      expect(await verifyChain(tampered)).toMatchObject({ ok: false, position: 3, reason: 'tampered' });
      expect(await verifyChain([all.filter((e) => e.position !== 2)])).toMatchObject({ ok: false, position: 2, reason: 'missing' });
      expect(await verifyChain([all.slice(0, 3)])).toMatchObject({ ok: true, checked: 3 });
      expect(await verifyChain([all.slice(0, 3)], { expectHead: previous })).toMatchObject({ ok: false, position: 4, reason: 'missing' });
    });

    it('round-trips metadata: occurredAt, commandId, correlationId and extra keys', async () => {
      const store = await fresh();
      const before = Date.now();
      const event: NewEvent = {
        type: 'KeyIssued',
        data: { thumbprint: 'AB01', validity: 2_628_000, tags: ['a', 'b'], nothing: null, flag: false },
        metadata: {
          occurredAt: '2031-05-06T07:08:09.000Z',
          commandId: 'cmd-xyz',
          correlationId: 'corr-xyz',
          causationId: 'cause-1',
          actor: { kind: 'scheduler', attempt: 2 },
          simulated: true,
        },
      };
      const sub = record(store.subscribeAll());
      await store.append('group-9', [event], -1);
      const [fromStream] = await store.readStream('group-9');
      const [fromAll] = await store.readAll();
      await sub.until(1);
      for (const e of [fromStream!, fromAll!, sub.events[0]!]) {
        expect(e.type).toBe('KeyIssued');
        expect(e.data).toEqual(event.data);
        expect(e.metadata).toEqual(event.metadata);
        const recordedAt = Date.parse(e.recordedAt);
        expect(new Date(recordedAt).toISOString()).toBe(e.recordedAt);
        expect(recordedAt).toBeGreaterThanOrEqual(before - 1);
        expect(recordedAt).toBeLessThanOrEqual(Date.now() + 1);
      }
      // readers get their own copies
      fromStream!.data['thumbprint'] = 'mutated';
      expect((await store.readStream('group-9'))[0]!.data['thumbprint']).toBe('AB01');
      sub.stop();
    });
  });
}
