import type { Command } from 'commander';
import { COLUMNS, TABLES, queryTable, requireTable } from '../../../projections/index.js';
import { parseInstantArgument, parseInteger } from '../arguments.js';
import { alignedTable, printJson, printLine } from '../output.js';
import { withReadModel } from '../readModelOptions.js';
import { cell, columnsOf } from '../rowFormat.js';
import { withStoreOptions } from '../storeOptions.js';
import { RekeyError } from '../../kernel/errors.js';
import { toCsv } from '../../fleet/csv.js';

interface QueryOptions {
  asOf?: string;
  position?: string;
  filter?: string;
  select?: string;
  orderby?: string;
  top?: string;
  count?: boolean;
  json?: boolean;
  csv?: boolean;
  db?: string;
  eventstore?: string;
}

export function queryCommand(program: Command): void {
  withStoreOptions(
    program
      .command('query')
      .argument('<table>', `entity set: ${TABLES.join(', ')}`)
      .description('query a table the way Dataverse is queried ($filter, $select, $orderby, $top, $count)')
      .option('--as-of <instant>', 'the table as it was at this instant (derived columns evaluated then)')
      .option('--position <n>', 'the table as it was after this log position')
      .option('--filter <odata>', "OData $filter, e.g. \"keydeliverystatus eq 2 and startswith(name,'FIN')\"")
      .option('--select <columns>', 'comma-separated columns')
      .option('--orderby <expr>', "e.g. 'lastheartbeatdate desc, name'")
      .option('--top <n>', 'at most this many rows')
      .option('--count', 'also count every matching row (ignoring --top)')
      .option('--json', 'print {"@odata.context", "value": [rows]} (and "@odata.count")')
      .option('--csv', 'print CSV (RFC 4180): a header of logical column names, then one line per row; choice columns as codes'),
  )
    .addHelpText('after', `
Examples:
  rekey query flowmachines --filter "keydeliverystatus eq 2" --select name,keydeliverystatus,lastheartbeatdate
  rekey query flowmachinegroups --as-of 2030-09-01T00:00:00Z --select name,rekey_renewalstate,rekey_renewalendsat
  rekey query desktopflowconnections --filter "status eq 'Fix connection'" --count --json`)
    .action(async (table: string, options: QueryOptions) => {
      const name = requireTable(table);
      if (options.asOf !== undefined && options.position !== undefined) {
        throw new RekeyError('ARGUMENT_INVALID', 'give --as-of or --position, not both', {}, 'validation');
      }
      const asOf = options.asOf === undefined ? undefined : parseInstantArgument('--as-of', options.asOf);
      const position = options.position === undefined ? undefined : parseInteger('--position', options.position, 0, Number.MAX_SAFE_INTEGER);
      const top = options.top === undefined ? undefined : parseInteger('--top', options.top, 1, 1_000_000);
      const response = await withReadModel(options, (readModel) =>
        queryTable({ readModel, table: name, asOf, position, filter: options.filter, select: options.select, orderby: options.orderby, top, count: options.count }),
      );
      if (options.csv && !options.json) {
        const columns = columnsOf(response.value, COLUMNS[name]);
        process.stdout.write(toCsv(columns, response.value));
        return;
      }
      if (options.json) {
        printJson(response);
        return;
      }
      const columns = columnsOf(response.value, COLUMNS[name]);
      printLine(alignedTable(columns, response.value.map((row) => columns.map((column) => cell(row, column)))));
      if (response['@odata.count'] !== undefined) printLine(`\n${response['@odata.count']} matching rows`);
    });
}
