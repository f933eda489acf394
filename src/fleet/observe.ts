/**
 * From export rows to the fleet they describe: every cell checked (instants, integers, choice codes,
 * names, versions, R1/R2), ids and names unique, every machine's group and every connection's target
 * in the export. Each bad row is reported with its file, line (CSV) or index (JSON), column and
 * reason. A file with any bad row imports nothing, unless `skipBad`: then only its bad rows are
 * left out (and the machines of a left-out group with them, each reported).
 *
 * This file checks across rows and files (uniqueness, a machine's group, a group's capacity, a
 * connection's target, which rows are kept). In observe/: one reader per table (groupRows.ts,
 * machineRows.ts, connectionRows.ts) over the cell readers of rowReader.ts, unique.ts, the plan of
 * each group's keys and renewal (groupPlan.ts), and the shapes returned (observed.ts).
 */
import { MAX_MACHINES_PER_GROUP } from '../domain/group/errors.js';
import type { Instant } from '../domain/time.js';
import type { ExportFile, ExportRow, ImportProblem } from './exportFiles.js';
import { readConnectionRows } from './observe/connectionRows.js';
import { planGroup } from './observe/groupPlan.js';
import { readGroupRows } from './observe/groupRows.js';
import { readMachineRows } from './observe/machineRows.js';
import type { ImportedGroupPlan, ObservedFleet, ObservedMachine } from './observe/observed.js';
import { show, type Located, type RowReader } from './observe/rowReader.js';
import { unique } from './observe/unique.js';

export type { ImportedGroupPlan, ObservedConnection, ObservedFile, ObservedFleet, ObservedGroup, ObservedMachine } from './observe/observed.js';

export interface ObserveOptions {
  /** The import instant; default the latest instant found in the data. */
  readonly asOf?: Instant;
  readonly skipBad?: boolean;
}

/** Checks every row of every file and works out the fleet to import. */
export function observeFleet(exports: readonly ExportFile[], options: ObserveOptions = {}): ObservedFleet {
  const problems: ImportProblem[] = [];
  const badRows = new Set<ExportRow>();
  const instants: Instant[] = [];
  const note = (reader: RowReader, row: ExportRow) => {
    if (reader.problems.length > 0) {
      problems.push(...reader.problems);
      badRows.add(row);
    }
  };
  const fileProblems = new Map<string, number>();
  for (const file of exports) {
    problems.push(...file.problems);
    if (file.problems.length > 0) fileProblems.set(file.file, file.problems.length);
  }

  // ---- groups ----
  const { groups, groupKeys } = readGroupRows(exports, { instants, note });
  unique(groups, (g) => g.groupId, 'flowmachinegroupid', 'id', problems, badRows);
  unique(groups, (g) => g.name, 'name', 'name', problems, badRows);

  // ---- machines ----
  const machines = readMachineRows(exports, { instants, note });
  unique(machines, (m) => m.machineId, 'flowmachineid', 'id', problems, badRows);
  unique(machines, (m) => m.name, 'name', 'name', problems, badRows);

  // ---- connections ----
  const connections = readConnectionRows(exports, { instants, note });
  unique(connections, (c) => c.connectionId, 'connectionid', 'id', problems, badRows);
  unique(connections, (c) => c.name, 'name', 'name', problems, badRows);

  const observedAt = options.asOf ?? (instants.length > 0 ? Math.max(...instants) : undefined);

  // ---- cross-row checks: a machine's group, a group's capacity, a connection's target ----
  const rowProblem = (row: ExportRow, column: string, reason: string) => {
    problems.push({ file: row.file, ...(row.line !== undefined ? { line: row.line } : {}), ...(row.index !== undefined ? { index: row.index } : {}), column, reason });
    badRows.add(row);
  };
  const goodGroups = () => groups.filter((g) => !badRows.has(g.row));
  const groupById = new Map(goodGroups().map((g) => [g.value.groupId, g]));
  const groupByName = new Map(goodGroups().map((g) => [g.value.name, g]));
  for (const m of machines) {
    if (badRows.has(m.row) || m.value.groupId === null) continue;
    const group = groupById.get(m.value.groupId) ?? groupByName.get(m.value.groupId);
    if (!group) {
      const why = groupKeys.has(m.value.groupId) ? 'names a group whose row is bad' : 'names no group of the export';
      rowProblem(m.row, '_flowmachinegroupid_value', `${show(m.value.groupId)} ${why}; expected the flowmachinegroupid of a row of the flowmachinegroups export`);
      continue;
    }
    if (group.value.primary === null && !group.value.expired) {
      rowProblem(m.row, '_flowmachinegroupid_value', `machine group ${group.value.name} has no key (primarypublickey is empty), so it cannot have members; the first machine that joins issues the key`);
    }
  }
  const membersOf = new Map<string, Located<ObservedMachine>[]>();
  for (const m of machines) {
    if (badRows.has(m.row) || m.value.groupId === null) continue;
    const group = (groupById.get(m.value.groupId) ?? groupByName.get(m.value.groupId))!;
    const list = membersOf.get(group.value.groupId) ?? [];
    list.push(m);
    membersOf.set(group.value.groupId, list);
  }
  for (const [, list] of membersOf) {
    if (list.length <= MAX_MACHINES_PER_GROUP) continue;
    for (const m of list.slice(MAX_MACHINES_PER_GROUP)) {
      rowProblem(m.row, '_flowmachinegroupid_value', `is member ${list.indexOf(m) + 1} of its group; a group holds at most ${MAX_MACHINES_PER_GROUP} machines (R9)`);
    }
  }
  const machineNames = new Set(machines.filter((m) => !badRows.has(m.row)).map((m) => m.value.name));
  for (const c of connections) {
    if (badRows.has(c.row)) continue;
    const { type, name } = c.value.target;
    const known = type === 'group' ? groupByName.has(name) : machineNames.has(name);
    if (!known) rowProblem(c.row, 'targetname', `${show(name)} is not a ${type === 'group' ? 'machine group' : 'machine'} of the export; expected the name of a row of the ${type === 'group' ? 'flowmachinegroups' : 'flowmachines'} export`);
  }

  // ---- without --skip-bad, a file with any bad row imports nothing ----
  const badFiles = new Set<string>([...fileProblems.keys(), ...[...badRows].map((row) => row.file)]);
  const keep = (row: ExportRow) => !badRows.has(row) && (options.skipBad === true || !badFiles.has(row.file));
  const files = exports.map((file) => {
    const imported = file.rows.filter(keep).length;
    return {
      file: file.file, table: file.table, rows: file.rowCount, imported, skipped: file.rowCount - imported,
      encoding: file.encoding, ...(file.delimiter !== undefined ? { delimiter: file.delimiter } : {}),
      locale: file.locale, localeSource: file.localeSource, ignoredColumns: file.ignoredColumns,
    };
  });

  const plans: ImportedGroupPlan[] = [];
  if (observedAt !== undefined) {
    for (const g of groups) {
      if (!keep(g.row)) continue;
      const members = (membersOf.get(g.value.groupId) ?? []).filter((m) => keep(m.row)).sort((a, b) => a.value.name.localeCompare(b.value.name));
      plans.push(planGroup(g.value, members.map((m) => m.value), observedAt));
    }
  }
  plans.sort((a, b) => a.group.name.localeCompare(b.group.name));
  const keptGroupNames = new Set(plans.map((p) => p.group.name));
  const keptMachineNames = new Set(plans.flatMap((p) => p.members.map((m) => m.machine.name)));
  const keptConnections = connections.filter((c) => keep(c.row) && (c.value.target.type === 'group' ? keptGroupNames.has(c.value.target.name) : keptMachineNames.has(c.value.target.name)));
  return {
    observedAt: observedAt ?? 0,
    groups: plans,
    connections: keptConnections.map((c) => c.value).sort((a, b) => a.name.localeCompare(b.name)),
    loneMachines: machines.filter((m) => keep(m.row) && m.value.groupId === null).map((m) => m.value),
    problems,
    files,
  };
}
