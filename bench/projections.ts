/**
 * The read side on a large log, side by side in one run:
 *
 * 1. Rebuild throughput: `rebuild()` of the read model (all three tables, snapshots every 5,000
 *    events, rows and checkpoint committed at the end) reading the SQLite event store on its
 *    helper thread (readModel/catchUpThread.ts; the CPU-time ratio counts both threads),
 *    against a bare better-sqlite3 read of the same rows with JSON.parse of data and metadata: the
 *    floor any projection over this store sits on. ratio = bare time over rebuild time (target
 *    >= 0.5), the median of `rounds` rounds (default 3) in which the two run back to back. Two
 *    breakdown passes run in the same rounds: reading through the store port alone, and that read
 *    plus the domain's own evolve per stream (no rows): the floor of any projection reusing evolve.
 * 2. As-of: the tables as of random instants (seeded) through the read model's snapshots, against
 *    a full replay of the log from position 0 to the same instant. ratio = as-of time over replay
 *    time (target <= 0.005), both warm; the first as-of query of the process (cold JIT) is reported on
 *    its own. Both answers are compared.
 * 3. Peak memory (RSS and V8 heap) during the first round's rebuild (run before the bare reads),
 *    sampled after every page.
 *
 * The log is written by `projectionLog.ts` (real deciders, real store) into a temporary directory,
 * on /dev/shm when the machine has it, so the disk does not blur the comparison. To measure again
 * without writing it again, keep one (REKEY_BENCH_PROJECTION_LOG=FILE: written there if missing,
 * reused if present, never deleted). REKEY_BENCH_SNAPSHOT_EVERY changes the read model's distance
 * between snapshots (default DEFAULT_SNAPSHOT_EVERY), to weigh as-of against rebuild.
 */
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { DEFAULT_SNAPSHOT_EVERY, openReadModel, tablesAt } from '../projections/index.js';
import { evolveConnection } from '../src/domain/connection/evolve.js';
import { initialConnectionState, type ConnectionState } from '../src/domain/connection/state.js';
import type { ConnectionEvent, GroupEvent, Timed } from '../src/domain/events.js';
import { evolveGroup } from '../src/domain/group/evolve.js';
import { initialGroupState, type GroupState } from '../src/domain/group/state.js';
import { toDomainEvent } from '../src/domain/codec.js';
import { streamKind } from '../src/domain/streams.js';
import type { EventStore } from '../src/store/port.js';
import { openSqliteEventStore } from '../src/store/sqlite.js';
import { writeSyntheticLog } from './projectionLog.js';
import { mulberry32 } from '../src/kernel/random.js';

export interface ProjectionsBenchResult {
  name: 'projections';
  events: number;
  logMegabytes: number;
  generateSeconds: number;
  bareEventsPerSecond: number;
  /** The same bare read as arrays (`raw`), the way the store reads: the lower floor. */
  bareRawEventsPerSecond: number;
  /** Breakdown: reading every event through the store port (`readAll` pages), nothing else. */
  storeReadEventsPerSecond: number;
  /** Breakdown: the store read plus the domain's own evolve per stream, no rows: the floor of any projection that reuses evolve. */
  evolveOnlyEventsPerSecond: number;
  rebuildEventsPerSecond: number;
  /** rebuild / bare throughput, median of the rounds' ratios (target >= 0.5) */
  rebuildRatio: number;
  /** Every round's ratio, in order. */
  rebuildRatioRounds: string;
  /** The same in CPU time (the process's, so both threads of the rebuild against the bare read's one). */
  rebuildCpuRatio: number;
  /** rebuild / the raw bare read (best rounds): against the lower floor. */
  rebuildRatioToRawRead: number;
  rebuildTarget: number;
  asOfQueries: number;
  /** The first as-of query of the process (cold JIT for the time-travel path), not in the mean. */
  asOfColdMilliseconds: number;
  asOfMillisecondsMean: number;
  fullReplayMillisecondsMean: number;
  /** as-of / full replay time (target <= 0.005) */
  asOfRatio: number;
  asOfTarget: number;
  asOfMatchesReplay: boolean;
  snapshots: number;
  readModelMegabytes: number;
  peakRssMegabytes: number;
  peakHeapMegabytes: number;
  rounds: number;
}

const MB = 1024 * 1024;

/**
 * The floor: every row of the log read in one statement, data and metadata parsed. `raw` reads
 * arrays instead of named rows, as the store itself does: a lower floor, reported beside.
 */
function bareRead(file: string, raw = false): number {
  const db = new Database(file, { readonly: true });
  const started = performance.now();
  let n = 0;
  const sql = 'SELECT position, stream, revision, type, data, metadata, recorded_at, hash FROM events ORDER BY position';
  if (raw) {
    for (const row of db.prepare<[], unknown[]>(sql).raw(true).iterate()) {
      JSON.parse(row[4] as string);
      JSON.parse(row[5] as string);
      n++;
    }
  } else {
    for (const row of db.prepare<[], { data: string; metadata: string }>(sql).iterate()) {
      JSON.parse(row.data);
      JSON.parse(row.metadata);
      n++;
    }
  }
  const ms = performance.now() - started;
  db.close();
  if (n === 0) throw new Error('empty log');
  return ms;
}

/** Reads every event through the port; with `fold`, also folds it with the domain's evolve. */
async function storePass(store: EventStore, fold: boolean): Promise<number> {
  const groups = new Map<string, GroupState>();
  const connections = new Map<string, ConnectionState>();
  const started = performance.now();
  for (let from = 1; ;) {
    const page = await store.readAll(from, 5_000);
    if (page.length === 0) break;
    from = page[page.length - 1]!.position + 1;
    if (!fold) continue;
    for (const recorded of page) {
      const kind = streamKind(recorded.stream);
      if (kind === 'group') {
        groups.set(recorded.stream, evolveGroup(groups.get(recorded.stream) ?? initialGroupState, toDomainEvent(recorded) as Timed<GroupEvent>));
      } else if (kind === 'connection') {
        connections.set(recorded.stream, evolveConnection(connections.get(recorded.stream) ?? initialConnectionState, toDomainEvent(recorded) as Timed<ConnectionEvent>));
      }
    }
  }
  return performance.now() - started;
}


function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

const fileMegabytes = (file: string) => ['', '-wal'].reduce((sum, suffix) => sum + (existsSync(file + suffix) ? statSync(file + suffix).size : 0), 0) / MB;

export async function benchProjections(
  options: { events?: number; rounds?: number; asOfQueries?: number; print?: boolean; logFile?: string } = {},
): Promise<ProjectionsBenchResult> {
  const events = options.events ?? Number(process.env.REKEY_BENCH_PROJECTION_EVENTS ?? 1_000_000);
  const rounds = options.rounds ?? Number(process.env.REKEY_BENCH_PROJECTION_ROUNDS ?? 3);
  const asOfQueries = options.asOfQueries ?? 5;
  const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'rekey-bench-projections-'));
  const kept = options.logFile ?? process.env.REKEY_BENCH_PROJECTION_LOG;
  const file = kept ?? join(dir, 'rekey.db');
  const readFile = join(dir, 'rekey.db.read.db');
  try {
    const generated = kept && existsSync(kept) ? { seconds: 0 } : await writeSyntheticLog({ file, events });
    const store = openSqliteEventStore({ file, readonly: true });
    const head = await store.headPosition();
    const model = openReadModel({ store, file: readFile, snapshotEvery: Number(process.env.REKEY_BENCH_SNAPSHOT_EVERY ?? DEFAULT_SNAPSHOT_EVERY) });

    let bestBare = Infinity;
    let bestBareRaw = Infinity;
    let bestStoreRead = Infinity;
    let bestEvolve = Infinity;
    let bestRebuild = Infinity;
    let peakRss = 0;
    let peakHeap = 0;
    const sample = () => {
      const usage = process.memoryUsage();
      peakRss = Math.max(peakRss, usage.rss);
      peakHeap = Math.max(peakHeap, usage.heapUsed);
    };
    // Each round measures both sides back to back; the ratio reported is the median of the rounds'
    // ratios (a shared machine's load moves absolute times, much less the ratio of neighbours).
    const roundRatios: number[] = [];
    const roundCpuRatios: number[] = [];
    const rebuild = async (round: number) => {
      const cpu0 = process.cpuUsage();
      const started = performance.now();
      // Memory is sampled in the first round only, whose rebuild runs before anything else in the
      // process has read the log: V8 keeps some of what the bare reads of a large log allocated.
      await model.rebuild(round === 0 ? { onProgress: sample } : {});
      const ms = performance.now() - started;
      const cpu = process.cpuUsage(cpu0);
      if (round === 0) sample();
      return { ms, cpuMicros: cpu.user + cpu.system };
    };
    for (let round = 0; round < rounds; round++) {
      const first = round === 0 ? await rebuild(round) : undefined;
      const bareCpu0 = process.cpuUsage();
      const bareMs = bareRead(file);
      const bareCpu = process.cpuUsage(bareCpu0);
      bestBare = Math.min(bestBare, bareMs);
      bestBareRaw = Math.min(bestBareRaw, bareRead(file, true));
      bestStoreRead = Math.min(bestStoreRead, await storePass(store, false));
      bestEvolve = Math.min(bestEvolve, await storePass(store, true));
      const rebuilt = first ?? (await rebuild(round));
      bestRebuild = Math.min(bestRebuild, rebuilt.ms);
      roundRatios.push(bareMs / rebuilt.ms);
      roundCpuRatios.push((bareCpu.user + bareCpu.system) / rebuilt.cpuMicros);
    }

    // As of random instants: snapshots + a short replay, against a replay from position 0.
    const [first] = await store.readAll(1, 1);
    const [last] = await store.readAll(head, 1);
    const from = Date.parse(first!.metadata.occurredAt);
    const to = Date.parse(last!.metadata.occurredAt);
    const random = mulberry32(2026);
    // One query first, untimed in the ratio: the time-travel path's first run pays for the JIT (both
    // sides of the ratio are then measured warm; the full replay shares the rebuild's code).
    let started = performance.now();
    await tablesAt(model, { asOf: Math.floor((from + to) / 2) });
    const asOfColdMilliseconds = Math.round(performance.now() - started);
    let asOfMs = 0;
    let replayMs = 0;
    let matches = true;
    for (let i = 0; i < asOfQueries; i++) {
      const instant = Math.floor(from + random() * (to - from));
      started = performance.now();
      const fast = await tablesAt(model, { asOf: instant });
      asOfMs += performance.now() - started;
      started = performance.now();
      const slow = await tablesAt(store, { asOf: instant });
      replayMs += performance.now() - started;
      matches &&= JSON.stringify(fast) === JSON.stringify(slow);
    }
    const snapshots = model.snapshotPositions().length;
    await model.close();
    await store.close();

    const bareEventsPerSecond = Math.round((head / bestBare) * 1000);
    const rebuildEventsPerSecond = Math.round((head / bestRebuild) * 1000);
    const result: ProjectionsBenchResult = {
      name: 'projections',
      events: head,
      logMegabytes: Math.round(fileMegabytes(file)),
      generateSeconds: generated.seconds,
      bareEventsPerSecond,
      bareRawEventsPerSecond: Math.round((head / bestBareRaw) * 1000),
      storeReadEventsPerSecond: Math.round((head / bestStoreRead) * 1000),
      evolveOnlyEventsPerSecond: Math.round((head / bestEvolve) * 1000),
      rebuildEventsPerSecond,
      rebuildRatio: Math.round(median(roundRatios) * 1000) / 1000,
      rebuildRatioRounds: roundRatios.map((r) => r.toFixed(3)).join(' '),
      rebuildCpuRatio: Math.round(median(roundCpuRatios) * 1000) / 1000,
      rebuildRatioToRawRead: Math.round((bestBareRaw / bestRebuild) * 1000) / 1000,
      rebuildTarget: 0.5,
      asOfQueries,
      asOfColdMilliseconds,
      asOfMillisecondsMean: Math.round(asOfMs / asOfQueries),
      fullReplayMillisecondsMean: Math.round(replayMs / asOfQueries),
      asOfRatio: Math.round((asOfMs / replayMs) * 10_000) / 10_000,
      asOfTarget: 0.005,
      asOfMatchesReplay: matches,
      snapshots,
      readModelMegabytes: Math.round(fileMegabytes(readFile)),
      peakRssMegabytes: Math.round(peakRss / MB),
      peakHeapMegabytes: Math.round(peakHeap / MB),
      rounds,
    };
    if (options.print ?? true) {
      console.log(
        `projections: ${head} events; rebuild ${rebuildEventsPerSecond} ev/s vs bare read ${bareEventsPerSecond} ev/s, ratio ${result.rebuildRatio} ` +
          `(target >= 0.5); as-of ${result.asOfMillisecondsMean} ms vs full replay ${result.fullReplayMillisecondsMean} ms, ratio ${result.asOfRatio} ` +
          `(target <= 0.005); peak RSS ${result.peakRssMegabytes} MB`,
      );
    }
    return result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
