/**
 * Several real processes run the engine's scheduler and a machine agent each on ONE store, through
 * two renewals, with a shared fake clock stepped by this test (support/schedulerWorker.ts says how
 * a step runs). Every process acts on the same state at every step, so they race for every due
 * time (RenewalStarted, KeyExpired), for the group's first key (three machines join at once) and
 * for each renewal key (every machine checks in at S), and they meet only at the store's optimistic
 * concurrency. Whatever the interleaving, each fact must be recorded exactly once.
 *
 * On SQLite always; on EventStoreDB too when EVENTSTORE_URL is set (reported as skipped otherwise).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manualClock, parseInstant, plusMinutes, toIso } from '../../src/domain/time.js';
import { Engine } from '../../src/engine/engine.js';
import { seededIds } from '../../src/engine/ids.js';
import { createConnection } from '../../src/engine/portal.js';
import { openEventStoreDb } from '../../src/store/eventstoredb.js';
import type { EventStore, RecordedEvent } from '../../src/store/port.js';
import { openSqliteEventStore } from '../../src/store/sqlite.js';
import type { StoreSpec, WorkerReply, WorkerRequest } from './support/schedulerWorker.js';

const here = dirname(fileURLToPath(import.meta.url));
const REGISTER = join(here, '..', 'store', 'support', 'register.mjs');
const WORKER = join(here, 'support', 'schedulerWorker.ts');

const MACHINES = ['RACE-01', 'RACE-02', 'RACE-03'];
const GROUP = 'Racers';
const PASSWORD = 'Race-Passw0rd';
const DAY = 1440;
const T0 = parseInstant('2026-01-01T00:00:00Z');
const day = (n: number) => plusMinutes(T0, n * DAY);
// Default settings: v = 1,825 days, g = 180 days. Key 1 at T0; key 2 issued at S1 (every machine
// checks in at S1); key 3 at S2.
const S1 = day(1645);
const E1 = day(1825);
const S2 = plusMinutes(S1, 1645 * DAY);
const E2 = plusMinutes(S2, 180 * DAY);
const STEPS = [day(1), plusMinutes(S1, -1), S1, plusMinutes(S1, DAY), plusMinutes(E1, -1), E1, plusMinutes(E1, DAY), S2, plusMinutes(S2, DAY), E2, plusMinutes(E2, DAY)];

const ESDB_URL = process.env.EVENTSTORE_URL;

/** One child process and its line protocol. */
class Worker {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly waiting = new Map<number, (reply: WorkerReply) => void>();
  private stderr = '';
  readonly exited: Promise<number | null>;

  constructor(spec: StoreSpec, readonly machine: string) {
    this.child = spawn(process.execPath, ['--import', REGISTER, WORKER, JSON.stringify(spec), machine], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stderr.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      const reply = JSON.parse(line) as WorkerReply;
      const resolve = this.waiting.get(reply.seq);
      this.waiting.delete(reply.seq);
      resolve?.(reply);
    });
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => {
      for (const [seq, pending] of this.waiting) pending({ seq, machine, error: { message: `worker exited with ${code}: ${this.stderr}` } });
      this.waiting.clear();
      resolve(code);
    }));
  }

  request(request: Exclude<WorkerRequest, { op: 'exit' }>): Promise<WorkerReply> {
    return new Promise((resolve) => {
      this.waiting.set(request.seq, resolve);
      this.child.stdin.write(JSON.stringify(request) + '\n');
    });
  }

  async exit(): Promise<number | null> {
    this.child.stdin.write(JSON.stringify({ op: 'exit' }) + '\n');
    return this.exited;
  }
}

interface StoreSetup {
  spec: StoreSpec;
  open(): EventStore;
  cleanup(): Promise<void>;
}

function sqliteSetup(): StoreSetup {
  const dir = mkdtempSync(join(tmpdir(), 'rekey-race-'));
  const file = join(dir, 'race.db');
  return {
    spec: { kind: 'sqlite', file },
    open: () => openSqliteEventStore({ file, busyTimeoutMs: 30_000 }),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

function eventStoreDbSetup(): StoreSetup {
  const prefix = `rekey-race-${randomUUID()}-`;
  return {
    spec: { kind: 'eventstoredb', url: ESDB_URL!, prefix },
    open: () => openEventStoreDb({ connectionString: ESDB_URL!, streamPrefix: prefix }),
    cleanup: async () => undefined,
  };
}

interface Outcome {
  events: RecordedEvent[];
  replies: WorkerReply[];
  verified: unknown;
}

/** The whole race: set up the group, start the processes, step the clock, read the log. */
async function race(setup: StoreSetup): Promise<Outcome> {
  const store = setup.open();
  const clock = manualClock(T0);
  const engine = await Engine.open({ store, clock, ids: seededIds(11) });
  await engine.createGroup({ name: GROUP });

  const workers = MACHINES.map((machine) => new Worker(setup.spec, machine));
  const replies: WorkerReply[] = [];
  let seq = 0;
  // Both halves of a phase go to every process at once; `go` only once all have prepared.
  const phase = async (at: number, action: 'join' | 'due' | 'checkIn') => {
    const prepareSeq = ++seq;
    const prepared = await Promise.all(workers.map((w) => w.request({ seq: prepareSeq, op: 'prepare', at })));
    for (const reply of prepared) if (reply.error) throw new Error(`${reply.machine} could not prepare: ${reply.error.message}`);
    const goSeq = ++seq;
    const done = await Promise.all(workers.map((w) => w.request({ seq: goSeq, op: 'go', action, group: GROUP, password: PASSWORD })));
    replies.push(...done.map((reply) => ({ ...reply, phase: `${action}@${toIso(at)}` }) as WorkerReply));
  };
  try {
    await phase(T0, 'join');
    // A connection nobody runs: it must need fixing exactly once, at E1, whoever reconciles it.
    clock.set(day(1));
    await createConnection(engine, 'Invoices', { type: 'group', name: GROUP }, { username: 'CONTOSO\\svc', password: 'n0t-in-the-log' });
    for (const at of STEPS) {
      await phase(at, 'due');
      await phase(at, 'checkIn');
    }
  } finally {
    await Promise.all(workers.map((w) => w.exit()));
  }
  const events = await store.readAll(1, 1_000_000);
  const verified = 'verify' in store ? await (store as EventStore & { verify(): Promise<unknown> }).verify() : undefined;
  await store.close();
  await setup.cleanup();
  return { events, replies, verified };
}

const stores: { name: string; skip: boolean; setup: () => StoreSetup }[] = [
  { name: 'SQLite', skip: false, setup: sqliteSetup },
  { name: 'EventStoreDB', skip: !ESDB_URL, setup: eventStoreDbSetup },
];

if (!ESDB_URL) {
  console.warn('[schedulerRace] EventStoreDB race SKIPPED: EVENTSTORE_URL is not set');
  describe('the scheduler race on EventStoreDB (skipped)', () => {
    it.skip("SKIPPED, EVENTSTORE_URL is not set: start a server (docker compose up -d eventstore) and set EVENTSTORE_URL='esdb://127.0.0.1:2113?tls=false'", () => undefined);
  });
}

for (const { name, skip, setup } of stores) {
  describe.skipIf(skip)(`the scheduler race: ${MACHINES.length} processes, one ${name} store, two renewals`, () => {
    let outcome: Outcome;
    const ofType = (type: string) => outcome.events.filter((e) => e.type === type);
    const at = (e: RecordedEvent) => e.metadata.occurredAt;

    beforeAll(async () => {
      outcome = await race(setup());
    }, 180_000);

    afterAll(() => undefined);

    it('no process failed', () => {
      expect(outcome.replies.filter((r) => r.error).map((r) => `${r.machine}: ${r.error!.message}`)).toEqual([]);
    });

    it('the processes really raced: the store refused stale appends, and only at contested steps', () => {
      const conflicts = (phase: string) => outcome.replies.filter((r) => (r as WorkerReply & { phase: string }).phase === phase)
        .reduce((n, r) => n + (r.conflicts ?? 0), 0);
      // Three first joins on one state; three schedulers starting the same renewal; three issuers.
      expect(conflicts(`join@${toIso(T0)}`)).toBeGreaterThanOrEqual(MACHINES.length - 1);
      expect(conflicts(`due@${toIso(S1)}`)).toBe(MACHINES.length - 1);
      expect(conflicts(`due@${toIso(E1)}`)).toBeGreaterThanOrEqual(MACHINES.length - 1);
      expect(conflicts(`checkIn@${toIso(S1)}`)).toBeGreaterThanOrEqual(MACHINES.length - 1);
      expect(conflicts(`due@${toIso(day(1))}`)).toBe(0);
    });

    it('exactly one RenewalStarted per renewal, at its start', () => {
      expect(ofType('RenewalStarted').map((e) => [e.data.keyVersion, at(e)])).toEqual([[1, toIso(S1)], [2, toIso(S2)]]);
    });

    it('exactly one KeyIssued per key: the first key and one per renewal, each by one machine', () => {
      expect(ofType('KeyIssued').map((e) => [e.data.version, at(e)])).toEqual([[1, toIso(T0)], [2, toIso(S1)], [3, toIso(S2)]]);
      const issuers = outcome.replies.filter((r) => r.issuedKey);
      expect(issuers.map((r) => (r as WorkerReply & { phase: string }).phase)).toEqual([`checkIn@${toIso(S1)}`, `checkIn@${toIso(S2)}`]);
      expect(ofType('KeyIssued').slice(1).map((e) => e.data.issuedBy)).toEqual(issuers.map((r) => r.machine));
    });

    it('exactly one KeyExpired per retired key, at its renewal end', () => {
      expect(ofType('KeyExpired').map((e) => [e.data.keyVersion, at(e)])).toEqual([[1, toIso(E1)], [2, toIso(E2)]]);
      expect(ofType('GroupKeyExpired')).toEqual([]);
      expect(ofType('MachineKeyExpired')).toEqual([]);
    });

    it('every machine joined once and took each renewal key once, the issuer never', () => {
      expect(ofType('MachineJoined').map((e) => e.data.machine).sort()).toEqual(MACHINES);
      for (const version of [2, 3]) {
        const issuer = ofType('KeyIssued').find((e) => e.data.version === version)!.data.issuedBy;
        const takers = ofType('MachineKeyDelivered').filter((e) => e.data.keyVersion === version).map((e) => e.data.machine);
        expect(takers.sort()).toEqual(MACHINES.filter((m) => m !== issuer));
      }
    });

    it('the unused connection needed fixing exactly once, at E1', () => {
      expect(ofType('ConnectionNeedsFix').map(at)).toEqual([toIso(E1)]);
    });

    it('the log is whole: contiguous positions and revisions, and the hash chain verifies', () => {
      expect(outcome.events.map((e) => e.position)).toEqual(outcome.events.map((_, i) => i + 1));
      const byStream = new Map<string, number[]>();
      for (const e of outcome.events) byStream.set(e.stream, [...(byStream.get(e.stream) ?? []), e.revision]);
      for (const revisions of byStream.values()) expect(revisions).toEqual(revisions.map((_, i) => i));
      expect(outcome.verified).toMatchObject({ ok: true, checked: outcome.events.length });
    });
  });
}
