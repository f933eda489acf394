import type { Command } from 'commander';
import { readinessReport } from '../../readiness/report.js';
import { parseInstantArgument } from '../arguments.js';
import { alignedTable, printJson, printLine } from '../output.js';
import { openStore, withStoreOptions } from '../storeOptions.js';

export function readinessCommand(program: Command): void {
  withStoreOptions(
    program
      .command('readiness')
      .description("the seed's admin checklist per group: next renewal, outdated agents, machines and connections still to update, and a verdict")
      .option('--as-of <instant>', 'the checklist as it stood at this instant')
      .option('--json', 'print {"asOf", "groups": [...]} (schema in docs/contract.md)'),
  )
    .addHelpText('after', `
Verdicts: OK; at risk (something must happen before the window ends); will expire (nobody can renew); expired.

Examples:
  rekey readiness --db /tmp/branch.db --as-of 2030-09-01T00:00:00Z
  rekey readiness --json | jq '.groups[] | select(.verdict != "OK")'`)
    .action(async (options: { asOf?: string; json?: boolean; db?: string; eventstore?: string }) => {
      const asOf = options.asOf === undefined ? undefined : parseInstantArgument('--as-of', options.asOf);
      const store = await openStore(options, { mustExist: true });
      try {
        const report = await readinessReport(store, asOf);
        if (options.json) {
          printJson(report);
          return;
        }
        printLine(`readiness as of ${report.asOf ?? 'the start of the log'}`);
        printLine();
        printLine(alignedTable(
          ['group', 'verdict', 'key', 'renewal starts', 'renewal ends', 'below 2.23', 'pending', 'missed'],
          report.groups.map((g) => [g.name, g.verdict, g.keyVersion === null ? '-' : `v${g.keyVersion}`, g.renewalStart ?? '-', g.renewalEnd ?? '-', String(g.machinesBelow223.length), String(g.pendingNewKey.length), String(g.keyExpired.length)]),
        ));
        for (const group of report.groups.filter((g) => g.reasons.length > 0)) {
          printLine();
          printLine(`${group.name}:`);
          for (const reason of group.reasons) printLine(`  - ${reason}`);
        }
      } finally {
        await store.close();
      }
    });
}
