import type { Command } from 'commander';
import { workerKeyPairSource } from '../../crypto/index.js';
import { loadScenarioFile } from '../../simulation/loader.js';
import { keysAheadFor, simulate } from '../../simulation/simulator.js';
import { runContinued } from '../../fleet/continuation.js';
import { summarize } from '../../simulation/summary.js';
import { openStore, withStoreOptions } from '../storeOptions.js';
import { alignedTable, printJson, printLine, progressBar } from '../output.js';
import { parseInteger } from '../arguments.js';

export function simulateCommand(program: Command): void {
  withStoreOptions(
    program
      .command('simulate')
      .argument('<scenario>', 'scenario file (JSON: docs/scenarios.md, schema in docs/scenario-schema.json)')
      .description('run a scenario through the real engine and machine agents, into a new or empty store')
      .option('--seed <n>', "override the scenario's seed (0 to 4294967295)")
      .option('--json', 'print one JSON object: seed, events, rejected, stateHash, summary'),
  )
    .addHelpText('after', `
Examples:
  rekey simulate examples/healthy-fleet.json --db /tmp/healthy.db
  rekey simulate examples/branch-office-offline.json --db /tmp/branch.db --json | jq .rejected

Exits 0 when the run completes, whatever the rules refused (listed under "rejected").`)
    .action(async (file: string, options: { seed?: string; json?: boolean; db?: string; eventstore?: string }) => {
      const loaded = loadScenarioFile(file);
      const scenario = options.seed === undefined ? loaded : { ...loaded, seed: parseInteger('--seed', options.seed, 0, 0xffffffff) };
      const store = await openStore(options, { mustExist: false });
      // RSA keys made on worker threads beside the simulation (src/crypto/keyWorkers.ts).
      const keys = workerKeyPairSource({ ahead: keysAheadFor(scenario) });
      const bar = progressBar('simulating');
      try {
        const onProgress = (fraction: number, at: number) => bar.update(fraction, new Date(at).toISOString().slice(0, 10));
        // A scenario with `from` continues a stored or exported state (src/fleet/continuation.ts).
        const result = scenario.from
          ? (await runContinued(scenario, { store, keys, scenarioFile: file, onProgress })).result
          : await simulate(scenario, { store, keys, onProgress });
        bar.done();
        const report = await summarize(scenario, result);
        if (options.json) {
          printJson(report);
          return;
        }
        printLine(`seed ${report.seed}: ${report.events} events, ${report.rejected.length} refused actions, stateHash ${report.stateHash}`);
        printLine(`simulated ${report.summary.simulatedYears.toFixed(1)} years in ${(report.summary.wallSeconds).toFixed(1)} s (${Math.round(report.summary.simulatedToWallRatio).toLocaleString('en-US')}x real time)`);
        printLine();
        printLine(alignedTable(
          ['group', 'state', 'key', 'renewals', 'machines (Default/Pending/KeyExpired)', 'connections to fix'],
          report.summary.groups.map((g) => [g.name, g.state, `v${g.keyVersion}`, String(g.renewals), `${g.machines.Default}/${g.machines.PendingNewKey}/${g.machines.KeyExpired}`, g.connectionsToFix.join(', ') || '-']),
        ));
        if (report.rejected.length > 0) {
          printLine();
          printLine('refused:');
          for (const r of report.rejected) printLine(`  ${r.at}  ${r.command} ${r.target}: ${r.code}: ${r.message}`);
        }
      } finally {
        await keys.close();
        await store.close();
      }
    });
}
