/**
 * One machine's process in the scheduler race (test/engine/schedulerRace.test.ts), run as
 *
 *   node --import test/store/support/register.mjs schedulerWorker.ts '<store spec JSON>' <machine name>
 *
 * It opens its own Engine (the service side, with its scheduler) on the shared store and its own
 * MachineAgent (the machine side, whose key store lives only in this process), and obeys JSON lines
 * on stdin, answering each with one JSON line on stdout:
 *
 * - `{"seq", "op": "prepare", "at"}`: set the fake clock to `at`, catch up with the log, answer
 *   with the head it saw.
 * - `{"seq", "op": "go", "action": "join" | "due" | "checkIn", "password"?}`: run the action (join
 *   the group; the engine's scheduler `processDue()`; the agent's `checkIn()`). The parent sends
 *   `go` only once every process has answered `prepare`, so all of them act on the same state.
 *   Until this process's first append of the phase has been answered, its reads of the log stop at
 *   the head it prepared at: every process decides on the same state and they meet at the store,
 *   which is the widest window for a race that real concurrency can open. After an append (won or
 *   lost) reads see the whole log again, so the engine's conflict handling runs against the truth.
 * - `{"op": "exit"}`: close and exit.
 *
 * Answers carry what the store refused (`conflicts`) and what this process recorded.
 */
import { createInterface } from 'node:readline';
import type { Observable } from 'rxjs';
import { inlineKeyPairSource } from '../../../src/crypto/keys.js';
import { manualClock } from '../../../src/domain/time.js';
import { MachineAgent } from '../../../src/engine/agent.js';
import { Engine } from '../../../src/engine/engine.js';
import { randomIds } from '../../../src/engine/ids.js';
import { openEventStoreDb } from '../../../src/store/eventstoredb.js';
import { WrongExpectedRevisionError } from '../../../src/store/errors.js';
import type { AppendResult, EventStore, ExpectedRevision, NewEvent, RecordedEvent, StreamBatch } from '../../../src/store/port.js';
import { openSqliteEventStore } from '../../../src/store/sqlite.js';

export type StoreSpec =
  | { kind: 'sqlite'; file: string }
  | { kind: 'eventstoredb'; url: string; prefix: string };

export type WorkerRequest =
  | { seq: number; op: 'prepare'; at: number }
  | { seq: number; op: 'go'; action: 'join' | 'due' | 'checkIn'; group: string; password?: string }
  | { op: 'exit' };

export interface WorkerReply {
  seq: number;
  machine: string;
  head?: number;
  conflicts?: number;
  appended?: { type: string; position: number }[];
  issuedKey?: boolean;
  receivedKey?: boolean;
  error?: { code?: string; message: string };
}

/** The store as seen by one racing process: reads frozen at a head until its next append. */
class GatedStore implements EventStore {
  readonly kind: string;
  frozenAt: number | undefined;
  conflicts = 0;
  appended: { type: string; position: number }[] = [];

  constructor(private readonly inner: EventStore) {
    this.kind = inner.kind;
  }

  async append(stream: string, events: readonly NewEvent[], expected: ExpectedRevision): Promise<AppendResult> {
    try {
      const result = await this.inner.append(stream, events, expected);
      events.forEach((event, i) => this.appended.push({ type: event.type, position: result.lastPosition - events.length + 1 + i }));
      return result;
    } catch (error) {
      if (error instanceof WrongExpectedRevisionError) this.conflicts++;
      throw error;
    } finally {
      this.frozenAt = undefined;
    }
  }

  appendMany(batches: readonly StreamBatch[]): Promise<AppendResult[]> {
    return this.inner.appendMany(batches); // the engine never writes several streams at once
  }

  readStream(stream: string, fromRevision?: number): Promise<RecordedEvent[]> {
    return this.inner.readStream(stream, fromRevision);
  }

  async readAll(fromPosition = 1, limit = Number.MAX_SAFE_INTEGER): Promise<RecordedEvent[]> {
    if (this.frozenAt === undefined) return this.inner.readAll(fromPosition, limit);
    if (fromPosition > this.frozenAt) return [];
    return this.inner.readAll(fromPosition, Math.min(limit, this.frozenAt - fromPosition + 1));
  }

  headPosition(): Promise<number> {
    return this.inner.headPosition();
  }

  subscribeAll(fromPosition?: number): Observable<RecordedEvent> {
    return this.inner.subscribeAll(fromPosition);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

const usage = (): never => {
  throw new Error("usage: schedulerWorker.ts '<store spec JSON>' <machine name>");
};
const spec = JSON.parse(process.argv[2] ?? usage()) as StoreSpec;
const machine: string = process.argv[3] ?? usage();
const inner = spec.kind === 'sqlite'
  ? openSqliteEventStore({ file: spec.file, busyTimeoutMs: 30_000 })
  : openEventStoreDb({ connectionString: spec.url, streamPrefix: spec.prefix });
const store = new GatedStore(inner);
const clock = manualClock(0);
const engine = await Engine.open({ store, clock, ids: randomIds() });
const agent = new MachineAgent({ engine, machineId: `m-${machine}`, name: machine, agentVersion: '2.23.116.23040', keys: inlineKeyPairSource() });
let preparedHead = 0;

const reply = (message: WorkerReply) => process.stdout.write(JSON.stringify(message) + '\n');

async function handle(request: Exclude<WorkerRequest, { op: 'exit' }>): Promise<WorkerReply> {
  if (request.op === 'prepare') {
    clock.set(request.at);
    await engine.sync();
    preparedHead = engine.fleet.position;
    return { seq: request.seq, machine, head: preparedHead };
  }
  store.conflicts = 0;
  store.appended = [];
  store.frozenAt = preparedHead;
  const answer: WorkerReply = { seq: request.seq, machine };
  try {
    switch (request.action) {
      case 'join':
        await agent.join(request.group, request.password!);
        break;
      case 'due':
        await engine.processDue();
        break;
      case 'checkIn': {
        const outcome = await agent.checkIn();
        answer.issuedKey = outcome.issuedKey;
        answer.receivedKey = outcome.receivedKey;
        break;
      }
    }
  } catch (error) {
    const e = error as Error & { code?: string };
    answer.error = { code: e.code, message: e.stack ?? e.message };
  } finally {
    store.frozenAt = undefined;
  }
  answer.conflicts = store.conflicts;
  answer.appended = store.appended;
  return answer;
}

// One request at a time, in order.
let queue = Promise.resolve();
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (line.trim() === '') return;
  const request = JSON.parse(line) as WorkerRequest;
  queue = queue.then(async () => {
    if (request.op === 'exit') {
      lines.close();
      await store.close();
      process.exit(0);
    }
    reply(await handle(request).catch((error: Error) => ({ seq: request.seq, machine, error: { message: error.stack ?? error.message } })));
  });
});
