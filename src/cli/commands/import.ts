import type { Command } from 'commander';
import { readFleet, importFleet } from '../../fleet/importer.js';
import { parseInstantArgument } from '../arguments.js';
import { alignedTable, printJson, printLine } from '../output.js';
import { openStore, withStoreOptions } from '../storeOptions.js';

interface ImportCliOptions {
  asOf?: string;
  skipBad?: boolean;
  json?: boolean;
  db?: string;
  eventstore?: string;
}

export function importCommand(program: Command): void {
  withStoreOptions(
    program
      .command('import')
      .argument('<files...>', 'Dataverse exports: {"value": [...]} as rekey query --json prints it, or CSV with the same (or display) column names')
      .description('load exports of flowmachinegroups and flowmachines (and desktopflowconnections) into a new or empty store, as the state observed at one instant')
      .option('--as-of <instant>', 'the instant the exports show (default: the latest instant found in them); any instant is accepted')
      .option('--skip-bad', 'import the good rows and report the bad ones (without it, any bad row imports nothing)')
      .option('--json', 'print {"observedAt", "files", "groups", "machines", "connections", "ignoredMachines", "events", "skipped"}'),
  )
    .addHelpText('after', `
The history before the import instant is unknown, and the audit log says so (rekey events --stream import).
rekey never holds the private keys of imported groups; a forecast gives its simulated machines stand-in keys.

Examples:
  rekey import examples/export/flowmachinegroups.json examples/export/flowmachines.json --db /tmp/fleet.db
  rekey import groups.csv machines.csv --as-of 2030-06-01T00:00:00Z --skip-bad --db /tmp/fleet.db`)
    .action(async (files: string[], options: ImportCliOptions) => {
      const asOf = options.asOf === undefined ? undefined : parseInstantArgument('--as-of', options.asOf);
      const fleet = readFleet(files, { asOf, skipBad: options.skipBad === true });
      const store = await openStore(options, { mustExist: false });
      try {
        const report = await importFleet(store, fleet);
        if (options.json) {
          printJson(report);
          return;
        }
        printLine(`imported ${report.groups} machine groups, ${report.machines} machines and ${report.connections} connections observed at ${report.observedAt} (${report.events} events; history before that instant unknown)`);
        printLine();
        printLine(alignedTable(['file', 'table', 'rows', 'imported', 'skipped'], report.files.map((f) => [f.file, f.table, String(f.rows), String(f.imported), String(f.skipped)])));
        if (report.ignoredMachines.length > 0) printLine(`\nnot imported (in no machine group): ${report.ignoredMachines.join(', ')}`);
        if (report.skipped.length > 0) {
          printLine('\nskipped:');
          for (const problem of report.skipped) printLine(`  ${problem.where}: ${problem.reason}`);
        }
      } finally {
        await store.close();
      }
    });
}
