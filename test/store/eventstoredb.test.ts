/**
 * The EventStoreDB store against a real server: the one contract every store passes, plus what is
 * particular to ESDB (several clients on one log, other tools' streams, ESDB's idempotence on our
 * deterministic event ids). Needs EVENTSTORE_URL, e.g.
 *
 *   docker compose up -d eventstore
 *   EVENTSTORE_URL='esdb://127.0.0.1:2113?tls=false' npx vitest run test/store/eventstoredb.test.ts
 *
 * Without it every case here is reported as skipped (never as passed), under a title that says why.
 * There is no mock server: what needs no server is in eventstoredb.codec.test.ts.
 */
import { randomUUID } from 'node:crypto';
import { EventStoreDBClient, FORWARDS, jsonEvent, type ResolvedEvent } from '@eventstore/db-client';
import { afterAll, describe, expect, it } from 'vitest';
import { openEventStoreDb, type EventStoreDbEventStore } from '../../src/store/eventstoredb.js';
import { eventIdFor } from '../../src/store/eventstoredb/codec.js';
import type { EventStore } from '../../src/store/port.js';
import { ev, range, record, runEventStoreContract, sleep } from './contract.js';

const url = process.env.EVENTSTORE_URL;
const ESDB_SKIP_REASON =
  "EVENTSTORE_URL is not set: start a server (docker compose up -d eventstore) and set EVENTSTORE_URL='esdb://127.0.0.1:2113?tls=false'";

if (!url) {
  // Visible in the run's output, beside the skipped cases, and as the title of a skipped case.
  console.warn(`[eventstoredb] SKIPPED: ${ESDB_SKIP_REASON}`);
  describe('EventStoreDB store (skipped)', () => {
    it.skip(`SKIPPED, ${ESDB_SKIP_REASON}`, () => undefined);
  });
}

describe.skipIf(!url)('EventStoreDB store', () => {
  // Every store gets a log of its own (`rekey-test-<uuid>-log`), so each case starts empty.
  const admin = url ? EventStoreDBClient.connectionString(url) : undefined;
  const logs: string[] = [];
  const open = (prefix = `rekey-test-${randomUUID()}-`) => {
    const store = openEventStoreDb({ connectionString: url!, streamPrefix: prefix, resubscribeDelayMs: 20 });
    logs.push(store.logStream);
    return store;
  };
  afterAll(async () => {
    for (const log of new Set(logs)) await admin!.deleteStream(log).catch(() => undefined);
    await admin?.dispose();
  });

  runEventStoreContract('eventstoredb', async () => open());

  const rawRead = async (stream: string) => {
    const out: ResolvedEvent[] = [];
    for await (const resolved of admin!.readStream(stream, { direction: FORWARDS }) as AsyncIterable<ResolvedEvent>) out.push(resolved);
    return out;
  };

  describe('particular to EventStoreDB', () => {
    const opened: EventStore[] = [];
    const track = <S extends EventStore>(store: S) => (opened.push(store), store);
    afterAll(async () => {
      for (const store of opened) await store.close();
    });

    it('keeps one event per log entry: ESDB revision = position - 1, deterministic ids, metadata for ESDB tools', async () => {
      const store = track(open());
      await store.append('group-1', [ev('GroupCreated', { name: 'g' }), ev('MachineJoined', { machine: 'm' })], -1);
      const raw = await rawRead(store.logStream);
      const mine = await store.readAll();
      expect(raw.map((r) => Number(r.event!.revision) + 1)).toEqual(mine.map((e) => e.position));
      raw.forEach((r, i) => {
        const event = mine[i]!;
        expect(r.event!.id).toBe(eventIdFor('group-1', event.metadata.commandId, i));
        expect(r.event!.metadata).toMatchObject({
          occurredAt: event.metadata.occurredAt,
          commandId: event.metadata.commandId,
          correlationId: event.metadata.correlationId,
          rekey: { stream: 'group-1', revision: i, position: i + 1, hash: event.hash },
        });
      });
    });

    it("reads only rekey's log: other tools' streams and system events never show", async () => {
      const store = track(open());
      await store.append('s', [ev('A')], -1);
      await admin!.appendToStream(`other-tool-${randomUUID()}`, jsonEvent({ type: 'Foreign', data: { x: 1 } }));
      await store.append('s', [ev('B')], 0);
      expect((await store.readAll()).map((e) => e.type)).toEqual(['A', 'B']);
      expect(await store.headPosition()).toBe(2);
      expect(await store.verify()).toMatchObject({ ok: true, checked: 2 });
    });

    it('refuses a foreign event written into the log stream with STORE_CORRUPT', async () => {
      const store = track(open());
      await store.append('s', [ev('A')], -1);
      await admin!.appendToStream(store.logStream, jsonEvent({ type: 'Foreign', data: { x: 1 } }));
      await expect(store.readAll()).rejects.toMatchObject({ code: 'STORE_CORRUPT' });
      await expect(store.verify()).rejects.toMatchObject({ code: 'STORE_CORRUPT' });
    });

    it('two clients on one log append concurrently without losing events and see each other live', async () => {
      const prefix = `rekey-test-${randomUUID()}-`;
      const a = track(open(prefix));
      const b = track(open(prefix));
      const seen = record(a.subscribeAll());
      const appends: Promise<unknown>[] = [];
      for (let i = 0; i < 100; i++) {
        const store = i % 2 === 0 ? a : b;
        appends.push(store.append(`s${i % 5}`, [ev('X', { i }), ev('Y', { i })], 'any'));
      }
      await Promise.all(appends);
      await a.append('contended', [ev('First')], -1);
      await expect(b.append('contended', [ev('Second')], -1)).rejects.toMatchObject({ code: 'WRONG_EXPECTED_REVISION', expected: -1, actual: 0 });
      // b's index is stale for s0 after a's appends; its expected revision is still checked against the log
      const s0 = (await a.readStream('s0')).length - 1;
      await expect(b.append('s0', [ev('Z')], s0)).resolves.toEqual({ lastRevision: s0 + 1, lastPosition: 202 });
      await seen.until(202, 20_000);
      await sleep(100);
      expect(seen.positions()).toEqual(range(1, 202));
      for (let i = 0; i < 5; i++) {
        const events = await b.readStream(`s${i}`);
        expect(events.map((e) => e.revision)).toEqual(range(0, events.length - 1));
      }
      expect(await b.verify()).toMatchObject({ ok: true, checked: 202 });
      seen.stop();
    });

    it('a store opened on an existing log continues its chain', async () => {
      const prefix = `rekey-test-${randomUUID()}-`;
      const first = open(prefix);
      await first.append('s', [ev('A'), ev('B')], -1);
      await first.close();
      const second = track(open(prefix));
      expect(await second.append('s', [ev('C')], 1)).toEqual({ lastRevision: 2, lastPosition: 3 });
      expect(await second.verify()).toMatchObject({ ok: true, checked: 3, headPosition: 3 });
    });

    it('ESDB takes a repeated append of the same ids at the same revision as done, not as new events', async () => {
      const store = track(open()) as EventStoreDbEventStore;
      await store.append('s', [ev('A')], -1);
      await store.append('s', [ev('B'), ev('C')], 0);
      const raw = await rawRead(store.logStream);
      // the second append again, as a client whose response was lost would send it
      const again = raw.slice(1).map((r) => jsonEvent({ id: r.event!.id, type: r.event!.type, data: r.event!.data as Record<string, unknown>, metadata: r.event!.metadata }));
      await admin!.appendToStream(store.logStream, again, { expectedRevision: 0n });
      expect(await store.headPosition()).toBe(3);
      expect(await store.verify()).toMatchObject({ ok: true, checked: 3 });
    });
  });
});
