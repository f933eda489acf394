/** `rekey explain TABLE NAME [--as-of T]`: why one row is as it is (src/explain/explain.ts). */
import type { Command } from 'commander';
import { TABLES, requireTable } from '../../../projections/tables.js';
import type { Explanation } from '../../explain/explain.js';
import { parseInstantArgument } from '../arguments.js';
import { openTarget, withTargetOptions, type TargetOptions } from '../adminOptions.js';
import { alignedTable, printJson, printLine } from '../output.js';

export function printExplanation(e: Explanation): void {
  printLine(`${e.table} ${e.name} as of ${e.asOf ?? 'the start of the log'} (log position ${e.position})`);
  printLine();
  printLine(e.summary);
  printLine();
  printLine('rule chain (the events that made this row, in log order):');
  printLine(alignedTable(['  position', 'occurred at', 'event', 'rules', 'why'], e.chain.map((link) => [`  ${link.position}`, link.occurredAt, link.event, link.rules.join(' ') || '-', link.why])));
  if (e.settings) {
    const s = e.settings;
    printLine();
    printLine(`settings of ${s.group}: in force since ${s.pickedUpAt} (R4): keyValidityPeriod ${s.inForce.keyValidityPeriod}, keyExpiryGracePeriod ${s.inForce.keyExpiryGracePeriod} minutes${s.recorded.keyValidityPeriod !== s.inForce.keyValidityPeriod || s.recorded.keyExpiryGracePeriod !== s.inForce.keyExpiryGracePeriod ? `; recorded (not yet picked up): ${s.recorded.keyValidityPeriod}, ${s.recorded.keyExpiryGracePeriod}` : ''}; proactive re-encryption ${s.proactiveReencryption ? 'on' : 'off'}`);
    for (const pending of s.pending) printLine(`  pending: picked up at ${pending.pickupAt}: ${[pending.keyValidityPeriod === null ? '' : `keyValidityPeriod ${pending.keyValidityPeriod}`, pending.keyExpiryGracePeriod === null ? '' : `keyExpiryGracePeriod ${pending.keyExpiryGracePeriod}`].filter(Boolean).join(', ')}`);
  }
  printLine();
  if (e.deadline) {
    printLine(`next deadline: ${e.deadline.what} at ${e.deadline.at} (${e.deadline.rule})`);
    printLine(`  ${e.deadline.formula}`);
    for (const note of e.deadline.notes) printLine(`  ${note}`);
  } else printLine('next deadline: none');
  printLine();
  printLine('what would change it:');
  for (const lever of e.levers) printLine(`  - ${lever.what} (${lever.rule})`);
}

export function explainCommand(program: Command): void {
  withTargetOptions(
    program
      .command('explain')
      .argument('<table>', `entity set: ${TABLES.join(', ')}`)
      .argument('<name-or-id>', 'the row: its name or id')
      .description('why a group, machine or connection is as it is at an instant: the rule chain, the settings in force, the next deadline with its formula, and what would change it')
      .option('--as-of <instant>', 'as it was at this instant (default: the head of the log)'),
  )
    .addHelpText('after', `
Examples:
  rekey explain flowmachines LYO-03 --as-of 2030-09-01T00:00:00Z
  rekey explain flowmachinegroups Finance --json | jq .deadline
  rekey explain desktopflowconnections Invoices --server http://127.0.0.1:8080`)
    .action(async (table: string, name: string, options: TargetOptions & { asOf?: string }) => {
      const entitySet = requireTable(table);
      const asOf = options.asOf === undefined ? undefined : parseInstantArgument('--as-of', options.asOf);
      const target = openTarget(options);
      try {
        const explanation = await target.explain(entitySet, name, asOf);
        if (options.json) printJson(explanation);
        else printExplanation(explanation);
      } finally {
        await target.close();
      }
    });
}
