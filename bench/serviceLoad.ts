/**
 * The service under load, side by side in one run (issue 18): `createServer` on a SQLite store
 * holding an imported fleet (bench/exportFleet.ts: N groups, one member each), driven over real HTTP
 * from the same process.
 *
 * 1. Commands per second against the fleet's size: the same admin commands (proactive
 *    re-encryption switched on and off, on groups taken in a fixed stride through the fleet) at 10,
 *    1,000 and 8,000 groups, one after the other as a client waits for each answer. flatness = commands/s at the largest fleet over
 *    commands/s at the smallest (target >= 0.5: flat within 2x). The sizes run in rounds, so noise
 *    hits them all alike; each keeps its best round.
 * 2. OData on the largest fleet: requests per second of a dashboard-like query
 *    (`flowmachines?$filter=keydeliverystatus eq 1&$select=name,lastheartbeatdate&$top=50`) alone,
 *    and while commands arrive beside it at a steady 20 per second (mixed: every read follows a
 *    fresh write, which used to make each read render every table again). ratio = mixed / alone
 *    (target >= 0.5). The two alternate in rounds; each keeps its best. The commands come at a set
 *    pace rather than flat out, so that the ratio shows what writes cost the reads, not the share of
 *    one CPU that a second busy loop takes.
 *
 * Client and server share the process (and its CPU), so the absolute figures are lower than a
 * separate client would see; the ratios compare like with like. REKEY_BENCH_SERVICE_SIZES (comma
 * separated), REKEY_BENCH_SERVICE_SECONDS and REKEY_BENCH_SERVICE_MIXED_RATE (commands per second
 * beside the reads) change the fleets, the length of each measure and the write load.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type RekeyServer } from '../src/api/index.js';
import { importFleet, readFleet } from '../src/fleet/importer.js';
import { openSqliteEventStore, type SqliteEventStore } from '../src/store/sqlite.js';
import { groupName, writeFleetExport } from './exportFleet.js';

export interface ServiceLoadBenchResult {
  name: 'serviceLoad';
  sizes: string;
  /** Commands per second at each fleet size, smallest first. */
  commandsPerSecond: string;
  /** Commands/s at the largest fleet over the smallest (target >= 0.5) */
  flatness: number;
  odataAloneRequestsPerSecond: number;
  odataMixedRequestsPerSecond: number;
  /** Commands per second recorded beside the mixed OData load (asked for: REKEY_BENCH_SERVICE_MIXED_RATE, default 20). */
  mixedCommandsPerSecond: number;
  /** OData mixed / alone (target >= 0.5) */
  odataRatio: number;
  rounds: number;
}

const ODATA_QUERY = "/api/data/v9.2/flowmachines?$filter=keydeliverystatus%20eq%201&$select=name,lastheartbeatdate&$top=50";

interface Fleet {
  readonly groups: number;
  readonly store: SqliteEventStore;
  readonly server: RekeyServer;
  /** Each group's next proactive-re-encryption value, so that every command changes something. */
  readonly proactive: boolean[];
}

async function openFleet(root: string, groups: number): Promise<Fleet> {
  const dir = join(root, `fleet-${groups}`);
  const files = writeFleetExport(mkdtempSync(`${dir}-`), groups);
  const store = openSqliteEventStore({ file: join(dir, 'rekey.db') });
  await importFleet(store, readFleet(files, { asOf: Date.parse('2030-06-01T00:00:00Z') }));
  const server = await createServer({ store, port: 0, schedulerIntervalMs: 0 });
  return { groups, store, server, proactive: new Array<boolean>(groups).fill(true) };
}

/** The groups commands go to: a stride through the fleet by a large prime, the same walk for every fleet size. */
function picker(start: number): () => number {
  let k = start;
  return () => ((k++ * 7919) % 1_000_003) / 1_000_003;
}

async function command(fleet: Fleet, next: () => number): Promise<void> {
  const i = Math.floor(next() * fleet.groups);
  const enabled = fleet.proactive[i]!;
  fleet.proactive[i] = !enabled;
  const response = await fetch(`${fleet.server.url}/api/commands/setProactiveReencryption`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ group: groupName(i), enabled }),
  });
  const body = await response.text();
  if (response.status !== 200) throw new Error(`command failed: ${response.status} ${body}`);
}

async function odata(fleet: Fleet): Promise<void> {
  const response = await fetch(`${fleet.server.url}${ODATA_QUERY}`);
  const body = await response.text();
  if (response.status !== 200) throw new Error(`query failed: ${response.status} ${body}`);
}

/** Runs `step` in a loop for `ms` (at most `perSecond` a second when given); returns how many completed per second. */
async function rate(ms: number, step: () => Promise<void>, pace?: { perSecond: number; until: { done: boolean } }): Promise<number> {
  const started = performance.now();
  let count = 0;
  while (performance.now() - started < ms && !pace?.until.done) {
    await step();
    count++;
    if (pace) {
      const due = started + (count * 1000) / pace.perSecond;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
  return count / ((performance.now() - started) / 1000);
}

export async function benchServiceLoad(options: { sizes?: number[]; seconds?: number; rounds?: number; mixedRate?: number } = {}): Promise<ServiceLoadBenchResult> {
  const sizes = options.sizes ?? (process.env.REKEY_BENCH_SERVICE_SIZES ?? '10,1000,8000').split(',').map(Number);
  const ms = (options.seconds ?? Number(process.env.REKEY_BENCH_SERVICE_SECONDS ?? 3)) * 1000;
  const mixedRate = options.mixedRate ?? Number(process.env.REKEY_BENCH_SERVICE_MIXED_RATE ?? 20);
  const rounds = options.rounds ?? 3;
  const root = mkdtempSync(join(tmpdir(), 'rekey-bench-service-'));
  const fleets: Fleet[] = [];
  try {
    for (const groups of sizes) fleets.push(await openFleet(root, groups));
    const best = new Map<number, number>();
    let alone = 0;
    let mixed = 0;
    let mixedCommands = 0;
    const largest = fleets[fleets.length - 1]!;
    for (let round = 0; round < rounds; round++) {
      for (const fleet of fleets) {
        const next = picker(round + 1);
        for (let i = 0; i < 20; i++) await command(fleet, next); // warm
        best.set(fleet.groups, Math.max(best.get(fleet.groups) ?? 0, await rate(ms, () => command(fleet, next))));
      }
      for (let i = 0; i < 20; i++) await odata(largest); // warm
      alone = Math.max(alone, await rate(ms, () => odata(largest)));
      const until = { done: false };
      const next = picker(100 + round);
      const writes = rate(ms, () => command(largest, next), { perSecond: mixedRate, until });
      const reads = await rate(ms, () => odata(largest));
      until.done = true;
      const writeRate = await writes;
      if (reads > mixed) {
        mixed = reads;
        mixedCommands = writeRate;
      }
    }
    const perSecond = sizes.map((groups) => Math.round(best.get(groups)!));
    return {
      name: 'serviceLoad',
      sizes: sizes.map((n) => n.toLocaleString('en-US')).join(' / '),
      commandsPerSecond: perSecond.join(' / '),
      flatness: Math.round((perSecond[perSecond.length - 1]! / perSecond[0]!) * 100) / 100,
      odataAloneRequestsPerSecond: Math.round(alone),
      odataMixedRequestsPerSecond: Math.round(mixed),
      mixedCommandsPerSecond: Math.round(mixedCommands),
      odataRatio: Math.round((mixed / alone) * 100) / 100,
      rounds,
    };
  } finally {
    for (const fleet of fleets) {
      await fleet.server.close();
      await fleet.store.close();
    }
    rmSync(root, { recursive: true, force: true });
  }
}
