import type { Command } from 'commander';
import { TABLES, rowHistory } from '../../../projections/index.js';
import { printJson, printLine } from '../output.js';
import { withReadModel } from '../readModelOptions.js';
import { withStoreOptions } from '../storeOptions.js';

export function historyCommand(program: Command): void {
  withStoreOptions(
    program
      .command('history')
      .argument('<table>', `entity set: ${TABLES.join(', ')}`)
      .argument('<name-or-id>', 'the row: its name (as in the scenario or admin command) or its id')
      .description('every change of one row, with the instant, the log position and the event that caused it')
      .option('--json', 'print {"table", "name", "id", "changes": [{"occurredAt", "position", "event", "changedColumns", "row"}]}'),
  )
    .addHelpText('after', `
Examples:
  rekey history flowmachines FIN-03
  rekey history flowmachinegroups Finance --json | jq '.changes[] | {occurredAt, event, changedColumns}'`)
    .action(async (table: string, nameOrId: string, options: { json?: boolean; db?: string; eventstore?: string }) => {
      const history = await withReadModel(options, (readModel) => rowHistory(readModel, table, nameOrId));
      if (options.json) {
        printJson(history);
        return;
      }
      printLine(`${history.table} ${history.name} (${history.id}): ${history.changes.length} changes`);
      for (const change of history.changes) {
        printLine(`${String(change.position).padStart(7)}  ${change.occurredAt}  ${change.event.padEnd(28)} ${change.changeType.padEnd(6)} ${change.changedColumns.join(', ')}`);
      }
    });
}
