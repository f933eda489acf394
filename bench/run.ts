/**
 * Runs every registered benchmark and prints a table: `npm run bench` (tsc -p tsconfig.build.json,
 * then node dist/bench/run.js). Register a benchmark by adding it to BENCHMARKS; it returns an object
 * whose numeric and string fields become the table's columns. `node dist/bench/run.js name...` runs
 * only the named ones; `--json` prints the results as JSON instead.
 */
import { benchSimulation } from './simulation.js';
import { benchStoreAppend } from './storeAppend.js';
import { benchProjections } from './projections.js';
import { benchCliStartup } from './cliStartup.js';
import { benchServiceLoad } from './serviceLoad.js';
import { benchSimulationScaling } from './simulationScaling.js';
import { benchEvolveScaling } from './evolveScaling.js';

export interface Benchmark {
  name: string;
  /** One sentence: what is measured and what a good result is. */
  description: string;
  run: () => Promise<object>;
}

export const BENCHMARKS: Benchmark[] = [
  {
    name: 'storeAppend',
    description: 'SQLite event store append throughput vs bare better-sqlite3 inserts (ratio >= 0.8)',
    run: () => benchStoreAppend(),
  },
  {
    name: 'simulation',
    description: 'reference fleet (100 groups, 1,000 machines, 200 weekly connections, 20 years, RSA-2048, keys on 2 worker threads) vs the crypto floor (ratio <= 1.3)',
    run: () => benchSimulation(),
  },
  {
    name: 'simulationSmall',
    description: 'a tenth of the reference fleet, for a quick look (same measures)',
    run: () => benchSimulation({ groups: 10, connectionsPerGroup: 2 }),
  },
  {
    name: 'serviceLoad',
    description: 'rekey serve over HTTP: commands/s at 10, 1,000 and 8,000 groups (flatness >= 0.5), OData requests/s alone and beside the command loop (ratio >= 0.5)',
    run: () => benchServiceLoad(),
  },
  {
    name: 'simulationScaling',
    description: 'the reference fleet shape at 10, 100 and 1,000 groups over 2 years (REKEY_BENCH_SCALING_YEARS), each vs its crypto floor: how cost grows',
    run: () => benchSimulationScaling(),
  },
  {
    name: 'evolveScaling',
    description: 'evolve per member event at 10 vs 1,000 members, in place (the projection) and copy-on-write (growth ~1 = O(1))',
    run: () => benchEvolveScaling(),
  },
  {
    name: 'projections',
    description: 'read model rebuild vs bare better-sqlite3 read + JSON.parse (ratio >= 0.5); as-of via snapshots vs full replay (ratio <= 0.005); peak memory (1,000,000 events; REKEY_BENCH_PROJECTION_EVENTS to change)',
    run: () => benchProjections({ print: false }),
  },
  {
    name: 'cliStartup',
    description: 'CPU of rekey --version and rekey query on a small store vs bare node, interleaved (target < 0.3 s of CPU each)',
    run: () => benchCliStartup(),
  },
];

function formatTable(rows: { name: string; result: Record<string, unknown> }[]): string {
  const lines: string[] = [];
  for (const { name, result } of rows) {
    const entries = Object.entries(result).filter(([key]) => key !== 'name');
    const width = Math.max(...entries.map(([key]) => key.length));
    lines.push(`| ${name}`);
    for (const [key, value] of entries) lines.push(`|   ${key.padEnd(width)}  ${typeof value === 'number' ? value.toLocaleString('en-US') : String(value)}`);
  }
  return lines.join('\n');
}

async function main(argv: string[]): Promise<void> {
  const json = argv.includes('--json');
  const names = argv.filter((a) => !a.startsWith('--'));
  const selected = names.length === 0 ? BENCHMARKS : BENCHMARKS.filter((b) => names.includes(b.name));
  const unknown = names.filter((n) => !BENCHMARKS.some((b) => b.name === n));
  if (unknown.length > 0) {
    console.error(`unknown benchmark(s): ${unknown.join(', ')}; known: ${BENCHMARKS.map((b) => b.name).join(', ')}`);
    process.exitCode = 2;
    return;
  }
  const results: { name: string; result: Record<string, unknown> }[] = [];
  for (const bench of selected) {
    if (!json) console.log(`running ${bench.name}: ${bench.description} ...`);
    const t0 = performance.now();
    const result = (await bench.run()) as Record<string, unknown>;
    results.push({ name: bench.name, result: { ...result, seconds: Math.round(performance.now() - t0) / 1000 } });
  }
  console.log(json ? JSON.stringify(results, null, 2) : formatTable(results));
}

await main(process.argv.slice(2));
