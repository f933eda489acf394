import type { Command } from 'commander';
import { TABLES, changeFeed, openReadModel, requireTable, type FeedChange } from '../../../projections/index.js';
import { parseInteger } from '../arguments.js';
import { printLine } from '../output.js';
import { cell } from '../rowFormat.js';
import { openStore, withStoreOptions } from '../storeOptions.js';

interface WatchOptions {
  change?: string;
  columns?: string;
  filter?: string;
  fromPosition?: string;
  once?: boolean;
  json?: boolean;
  db?: string;
  eventstore?: string;
}

function describeChange(change: FeedChange): string {
  const row = change.row;
  const name = row ? cell(row, 'name') : change.name;
  return `${String(change.position).padStart(7)}  ${change.occurredAt}  ${change.changeType.padEnd(6)} ${change.table} ${name}: ${change.changedColumns.join(', ')}`;
}

export function watchCommand(program: Command): void {
  withStoreOptions(
    program
      .command('watch')
      .argument('<table>', `entity set: ${TABLES.join(', ')}`)
      .description('the change feed ("When a row is added, modified or deleted"): one line per change, live')
      .option('--change <types>', 'comma-separated change types: create,update,delete (default: all)')
      .option('--columns <cols>', 'fire an update only when one of these columns changed')
      .option('--filter <odata>', 'an OData $filter evaluated on the row after the change')
      .option('--from-position <n>', 'start with the changes from this log position (default: only new ones)')
      .option('--once', 'stop at the head of the log instead of waiting for new changes')
      .option('--json', 'one JSON object per change and line'),
  )
    .addHelpText('after', `
Examples:
  rekey watch flowmachines --change update --columns keydeliverystatus --filter "keydeliverystatus eq 3"
  rekey watch flowmachinegroups --from-position 1 --once --json`)
    .action(async (table: string, options: WatchOptions) => {
      const name = requireTable(table);
      const fromPosition = options.fromPosition === undefined ? undefined : parseInteger('--from-position', options.fromPosition, 1, Number.MAX_SAFE_INTEGER);
      const store = await openStore(options, { mustExist: true });
      const readModel = openReadModel({ store });
      const feed = changeFeed(readModel, {
        tables: name,
        changeTypes: options.change?.split(',').map((type) => type.trim()).filter(Boolean),
        columns: options.columns?.split(',').map((column) => column.trim()).filter(Boolean),
        filter: options.filter,
        fromPosition,
      });
      const head = await store.headPosition();
      await new Promise<void>((resolve, reject) => {
        const print = (change: FeedChange) => printLine(options.json ? JSON.stringify(change) : describeChange(change));
        const subscription = feed.subscribe({
          next: (change) => {
            print(change);
            if (options.once && change.position >= head) subscription.unsubscribe(), resolve();
          },
          error: reject,
          complete: resolve,
        });
        if (options.once) {
          // With nothing (more) to show up to the head, stop as soon as the feed has caught up.
          const poll = setInterval(async () => {
            const checkpoint = await readModel.sync().catch(() => null);
            if (checkpoint && checkpoint.position >= head) {
              clearInterval(poll);
              setTimeout(() => (subscription.unsubscribe(), resolve()), 50);
            }
          }, 100);
        }
        const stop = () => (subscription.unsubscribe(), resolve());
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await readModel.close();
      await store.close();
    });
}
