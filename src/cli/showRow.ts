/**
 * `group show`, `machine show`, `connection show`: one row as of an instant, with the rows around it
 * (a group's machines and connections, a machine's group and connections, a connection's target),
 * from the same tables `rekey query` reads.
 */
import type { Row, TableName, TablesAt } from '../../projections/index.js';
import { RekeyError } from '../kernel/errors.js';
import type { AdminTarget } from '../admin/target.js';
import type { Command } from 'commander';
import { parseInstantArgument } from './arguments.js';
import { openTarget, withTargetOptions, type TargetOptions } from './adminOptions.js';
import { rowCard } from './adminOutput.js';
import { alignedTable, printJson, printLine } from './output.js';
import { cell } from './rowFormat.js';

const ID: Record<TableName, string> = { flowmachinegroups: 'flowmachinegroupid', flowmachines: 'flowmachineid', desktopflowconnections: 'connectionid' };
const WHAT: Record<TableName, string> = { flowmachinegroups: 'machine group', flowmachines: 'machine', desktopflowconnections: 'desktop flow connection' };

export function findRow(tables: TablesAt, table: TableName, nameOrId: string): Row {
  const rows = tables.tables[table];
  const found = rows.find((row) => row[ID[table]] === nameOrId) ?? rows.find((row) => row.name === nameOrId) ?? rows.find((row) => String(row.name).toLowerCase() === nameOrId.toLowerCase());
  if (!found) {
    const known = rows.map((row) => String(row.name)).sort();
    throw new RekeyError('ROW_NOT_FOUND', `no ${WHAT[table]} has the name or id ${JSON.stringify(nameOrId.slice(0, 100))}${tables.instant ? ` as of ${tables.instant}` : ''}; known: ${known.slice(0, 50).join(', ') || 'none'}${known.length > 50 ? ', ...' : ''}`, { table, nameOrId: nameOrId.slice(0, 100) }, 'not_found');
  }
  return found;
}

function related(tables: TablesAt, table: TableName, row: Row): { machines: Row[]; connections: Row[]; groups: Row[] } {
  const t = tables.tables;
  if (table === 'flowmachinegroups') {
    const machines = t.flowmachines.filter((m) => m._flowmachinegroupid_value === row.flowmachinegroupid);
    const names = new Set(machines.map((m) => m.name));
    const connections = t.desktopflowconnections.filter((c) => (c.targettype === 'group' ? c.targetname === row.name : names.has(c.targetname)));
    return { machines, connections, groups: [] };
  }
  if (table === 'flowmachines') {
    const groups = t.flowmachinegroups.filter((g) => g.flowmachinegroupid === row._flowmachinegroupid_value);
    const connections = t.desktopflowconnections.filter((c) => (c.targettype === 'machine' ? c.targetname === row.name : groups.some((g) => g.name === c.targetname)));
    return { machines: [], connections, groups };
  }
  const groups = row.targettype === 'group' ? t.flowmachinegroups.filter((g) => g.name === row.targetname) : [];
  const machines = row.targettype === 'machine' ? t.flowmachines.filter((m) => m.name === row.targetname) : t.flowmachines.filter((m) => groups.some((g) => g.flowmachinegroupid === m._flowmachinegroupid_value));
  return { machines, connections: [], groups };
}

export async function showRow(target: AdminTarget, table: TableName, nameOrId: string, asOf: number | undefined, json: boolean | undefined): Promise<void> {
  const tables = await target.tables(asOf);
  const row = findRow(tables, table, nameOrId);
  const { machines, connections, groups } = related(tables, table, row);
  if (json) {
    printJson({ table, asOf: tables.instant, position: tables.position, row, groups, machines, connections });
    return;
  }
  printLine(`${WHAT[table]} ${String(row.name)} as of ${tables.instant ?? 'the start of the log'} (log position ${tables.position})`);
  printLine();
  printLine(rowCard(row));
  if (groups.length > 0) {
    printLine();
    printLine(alignedTable(['group', 'renewal', 'next renewal', 'key expires'], groups.map((g) => [cell(g, 'name'), cell(g, 'rekey_renewalstate'), cell(g, 'rekey_nextrenewaldate') || '-', cell(g, 'rekey_keyexpirydate') || '-'])));
  }
  if (machines.length > 0) {
    printLine();
    printLine(alignedTable(['machine', 'agent', 'key delivery', 'last heartbeat', 'status'], machines.map((m) => [cell(m, 'name'), cell(m, 'agentversion'), cell(m, 'keydeliverystatus'), cell(m, 'lastheartbeatdate') || '-', cell(m, 'statuscode')])));
  }
  if (connections.length > 0) {
    printLine();
    printLine(alignedTable(['connection', 'target', 'status', 'last used', 're-encrypted'], connections.map((c) => [cell(c, 'name'), `${cell(c, 'targettype')} ${cell(c, 'targetname')}`, cell(c, 'status'), cell(c, 'lastuseddate') || '-', cell(c, 'reencrypteddate') || '-'])));
  }
}

/** The `show` subcommand of `rekey group`, `machine` and `connection`: one row as of an instant. */
export function showSubcommand(parent: Command, spec: { table: TableName; noun: string; description: string; examples: readonly string[] }): void {
  withTargetOptions(
    parent
      .command('show')
      .argument('<name>', `the ${spec.noun} (name or id)`)
      .description(spec.description)
      .option('--as-of <instant>', 'as it was at this instant (default: the head of the log)'),
  )
    .addHelpText('after', `\nExamples:\n${spec.examples.map((example) => `  ${example}`).join('\n')}`)
    .action(async (name: string, options: TargetOptions & { asOf?: string }) => {
      const asOf = options.asOf === undefined ? undefined : parseInstantArgument('--as-of', options.asOf);
      const target = openTarget(options);
      try {
        await showRow(target, spec.table, name, asOf, options.json);
      } finally {
        await target.close();
      }
    });
}
