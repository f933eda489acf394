/**
 * Append throughput of the SQLite event store against bare better-sqlite3 inserting the very same
 * rows, side by side in one run on fresh temp files.
 *
 * Both sides write one command per transaction (3 events per command, spread over 1,000 streams),
 * into the same table with the same indexes and the same pragmas (WAL, synchronous=NORMAL). The
 * store side calls `append(stream, events, expectedRevision)` and so pays for everything a real
 * append costs: argument checks, canonical JSON, BEGIN IMMEDIATE, the expected-revision check, the
 * read of the previous head, SHA-256 per event and the promise. The bare side inserts rows prepared
 * in advance (serialised, hashed, numbered: the rows the store writes) with one cached INSERT in a
 * plain `db.transaction`: the floor that any SQLite event store sits on. The two sides run
 * interleaved in blocks of 250 commands on two files, so machine noise hits both alike.
 * ratio = store events/s over bare events/s; the target is >= 0.8.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createInMemoryEventStore } from '../src/store/memory.js';
import type { NewEvent } from '../src/store/port.js';
import { openSqliteEventStore } from '../src/store/sqlite.js';

export interface StoreAppendBenchResult {
  name: 'storeAppend';
  events: number;
  commands: number;
  eventsPerCommand: number;
  storeEventsPerSecond: number;
  bareEventsPerSecond: number;
  /** store / bare throughput (target >= 0.8) */
  ratio: number;
  target: number;
  rounds: number;
}

interface Command {
  stream: string;
  expected: number;
  events: NewEvent[];
}

const EVENTS_PER_COMMAND = 3;
const STREAMS = 1_000;

function makeCommands(count: number): Command[] {
  const revisions = new Map<string, number>();
  const commands: Command[] = [];
  const start = Date.UTC(2030, 0, 1);
  for (let n = 0; n < count; n++) {
    const stream = `group-${n % STREAMS}`;
    const expected = revisions.get(stream) ?? -1;
    revisions.set(stream, expected + EVENTS_PER_COMMAND);
    const metadata = {
      occurredAt: new Date(start + n * 60_000).toISOString(),
      commandId: `cmd-${n}`,
      correlationId: `corr-${n}`,
    };
    commands.push({
      stream,
      expected,
      events: [
        { type: 'RenewalStarted', data: { groupId: stream, renewal: n, startedAt: metadata.occurredAt }, metadata },
        { type: 'KeyIssued', data: { groupId: stream, thumbprint: `${n.toString(16).padStart(8, '0')}`.repeat(8), validityMinutes: 2_628_000 }, metadata },
        { type: 'MachineKeyDelivered', data: { groupId: stream, machineId: `m-${n % 37}`, thumbprint: 'AB'.repeat(32) }, metadata },
      ],
    });
  }
  return commands;
}

type Row = [number, string, number, string, string, string, string, string, string, string];

/** The rows the store will write, computed once (untimed) through the in-memory store. */
async function makeRows(commands: Command[]): Promise<Row[][]> {
  const memory = createInMemoryEventStore({ wallClock: () => new Date('2030-01-01T00:00:00.000Z') });
  for (const c of commands) await memory.append(c.stream, c.events, c.expected);
  const all = await memory.readAll();
  await memory.close();
  const perCommand: Row[][] = [];
  let i = 0;
  for (const c of commands) {
    const rows: Row[] = [];
    for (let k = 0; k < c.events.length; k++, i++) {
      const e = all[i]!;
      rows.push([e.position, e.stream, e.revision, e.type, JSON.stringify(e.data), JSON.stringify(e.metadata),
        e.metadata.occurredAt, e.recordedAt, e.metadata.commandId, e.hash]);
    }
    perCommand.push(rows);
  }
  return perCommand;
}

const BARE_SCHEMA = `
  CREATE TABLE events (
    position INTEGER PRIMARY KEY, stream TEXT NOT NULL, revision INTEGER NOT NULL, type TEXT NOT NULL,
    data TEXT NOT NULL, metadata TEXT NOT NULL, occurred_at TEXT NOT NULL, recorded_at TEXT NOT NULL,
    command_id TEXT NOT NULL, hash TEXT NOT NULL, UNIQUE (stream, revision));
  CREATE INDEX events_occurred_at ON events (occurred_at);`;

/**
 * One round: both sides on fresh files, interleaved block by block (the side that goes first
 * alternates), so that background load and disk flushes hit both sides alike.
 */
async function round(dir: string, tag: string, commands: Command[], perCommand: Row[][], blockSize: number) {
  const store = openSqliteEventStore({ file: join(dir, `store-${tag}.db`) });
  const db = new Database(join(dir, `bare-${tag}.db`));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL'); // the store's setting
  db.exec(BARE_SCHEMA);
  const insert = db.prepare(
    'INSERT INTO events (position, stream, revision, type, data, metadata, occurred_at, recorded_at, command_id, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const perCommandTx = db.transaction((rows: Row[]) => {
    for (const r of rows) insert.run(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9]);
  });
  const runBare = (from: number, to: number) => {
    const t0 = performance.now();
    for (let i = from; i < to; i++) perCommandTx(perCommand[i]!);
    return performance.now() - t0;
  };
  const runStore = async (from: number, to: number) => {
    const t0 = performance.now();
    for (let i = from; i < to; i++) {
      const c = commands[i]!;
      await store.append(c.stream, c.events, c.expected);
    }
    return performance.now() - t0;
  };
  let storeMs = 0;
  let bareMs = 0;
  try {
    for (let from = 0, block = 0; from < commands.length; from += blockSize, block++) {
      const to = Math.min(commands.length, from + blockSize);
      if (block % 2 === 0) {
        bareMs += runBare(from, to);
        storeMs += await runStore(from, to);
      } else {
        storeMs += await runStore(from, to);
        bareMs += runBare(from, to);
      }
    }
  } finally {
    await store.close();
    db.close();
  }
  return { storeMs, bareMs };
}

export async function benchStoreAppend(options: { events?: number; rounds?: number; print?: boolean } = {}): Promise<StoreAppendBenchResult> {
  const commandCount = Math.ceil((options.events ?? 50_000) / EVENTS_PER_COMMAND);
  const rounds = options.rounds ?? 2;
  const commands = makeCommands(commandCount);
  const rows = await makeRows(commands);
  const dir = mkdtempSync(join(tmpdir(), 'rekey-bench-store-'));
  let bestStore = Infinity;
  let bestBare = Infinity;
  try {
    // A short warm-up (JIT, page cache), then full rounds; each side keeps its best round.
    await round(dir, 'warmup', commands.slice(0, 2_000), rows.slice(0, 2_000), 250);
    for (let r = 0; r < rounds; r++) {
      const { storeMs, bareMs } = await round(dir, String(r), commands, rows, 250);
      bestStore = Math.min(bestStore, storeMs);
      bestBare = Math.min(bestBare, bareMs);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const events = commandCount * EVENTS_PER_COMMAND;
  const storeEventsPerSecond = Math.round((events / bestStore) * 1000);
  const bareEventsPerSecond = Math.round((events / bestBare) * 1000);
  const result: StoreAppendBenchResult = {
    name: 'storeAppend',
    events,
    commands: commandCount,
    eventsPerCommand: EVENTS_PER_COMMAND,
    storeEventsPerSecond,
    bareEventsPerSecond,
    ratio: Math.round((storeEventsPerSecond / bareEventsPerSecond) * 1000) / 1000,
    target: 0.8,
    rounds,
  };
  if (options.print ?? true) {
    console.log(
      `storeAppend: ${events} events, ${EVENTS_PER_COMMAND} per command/transaction: store ${storeEventsPerSecond} ev/s, ` +
        `bare better-sqlite3 ${bareEventsPerSecond} ev/s, ratio ${result.ratio} (target >= ${result.target})`,
    );
  }
  return result;
}
