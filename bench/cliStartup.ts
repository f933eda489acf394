/**
 * CPU time of `rekey --version` and of `rekey query` on a small store (the healthy-fleet example),
 * side by side with a bare `node -e 0` in the same run, interleaved round by round so that machine
 * noise hits all three alike. CPU is the child's own user + system time (process.cpuUsage at exit,
 * reported by a preloaded module). The targets are under 0.3 s of CPU for both commands; the ratios
 * say how much of that is rekey rather than Node itself.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface CliStartupBenchResult {
  name: 'cliStartup';
  rounds: number;
  nodeCpuMs: number;
  versionCpuMs: number;
  queryCpuMs: number;
  /** rekey --version CPU over bare node CPU */
  versionRatio: number;
  /** rekey query CPU over bare node CPU */
  queryRatio: number;
  /** both commands under 0.3 s of CPU (median) */
  targetMet: boolean;
}

const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

export async function benchCliStartup(options: { rounds?: number } = {}): Promise<CliStartupBenchResult> {
  const rounds = options.rounds ?? Number(process.env.REKEY_BENCH_CLI_ROUNDS ?? 9);
  const dir = mkdtempSync(join(tmpdir(), 'rekey-bench-cli-'));
  try {
    const db = join(dir, 'small.db');
    const cpuFile = join(dir, 'cpu.txt');
    const preload = join(dir, 'cpu.mjs');
    writeFileSync(preload, `import { writeFileSync } from 'node:fs';\nprocess.on('exit', () => { const u = process.cpuUsage(); writeFileSync(${JSON.stringify(cpuFile)}, String((u.user + u.system) / 1000)); });\n`);
    const env = { ...process.env, REKEY_DB: '', REKEY_EVENTSTORE: '' };
    const made = spawnSync(process.execPath, [MAIN, 'simulate', join(ROOT, 'examples', 'healthy-fleet.json'), '--db', db], { cwd: ROOT, env, encoding: 'utf8' });
    if (made.status !== 0) throw new Error(`simulate failed: ${made.stderr}`);
    const cpuOf = (args: string[]): number => {
      const run = spawnSync(process.execPath, ['--import', preload, ...args], { cwd: ROOT, env, encoding: 'utf8' });
      if (run.status !== 0) throw new Error(`${args.join(' ')} failed: ${run.stderr}`);
      return Number(readFileSync(cpuFile, 'utf8'));
    };
    const node: number[] = [];
    const version: number[] = [];
    const query: number[] = [];
    for (let round = 0; round < rounds; round++) {
      node.push(cpuOf(['-e', '0']));
      version.push(cpuOf([MAIN, '--version']));
      query.push(cpuOf([MAIN, 'query', 'flowmachines', '--db', db, '--select', 'name,keydeliverystatus']));
    }
    const [n, v, q] = [median(node), median(version), median(query)];
    return {
      name: 'cliStartup',
      rounds,
      nodeCpuMs: Math.round(n),
      versionCpuMs: Math.round(v),
      queryCpuMs: Math.round(q),
      versionRatio: Math.round((v / n) * 100) / 100,
      queryRatio: Math.round((q / n) * 100) / 100,
      targetMet: v < 300 && q < 300,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
