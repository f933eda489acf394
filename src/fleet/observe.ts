/**
 * From export rows to the fleet they describe: every cell checked (instants, integers, choice codes,
 * names, versions, R1/R2), ids and names unique, every machine's group and every connection's target
 * in the export. Each bad row is reported with its file, line (CSV) or index (JSON), column and
 * reason. A file with any bad row imports nothing, unless `skipBad`: then only its bad rows are
 * left out (and the machines of a left-out group with them, each reported).
 */
import { parseAgentVersion } from '../domain/agentVersion.js';
import { isRekeyError } from '../kernel/errors.js';
import type { ImportedKeyFacts, MachineKeyDeliveryStatus } from '../domain/events.js';
import { MAX_MACHINES_PER_GROUP } from '../domain/group/errors.js';
import { NAME_PATTERN, NAME_RULE } from '../domain/names.js';
import { checkGrace, checkValidity } from '../domain/periods.js';
import { MS_PER_MINUTE, parseInstant, plusMinutes, toIso, type Instant } from '../domain/time.js';
import { REQUIRED, choiceCode, choiceList, type ImportTable } from './columns.js';
import type { ExportFile, ExportRow, ImportProblem } from './exportFiles.js';

export interface ObservedGroup {
  readonly source: string;
  readonly groupId: string;
  readonly name: string;
  readonly validity: number;
  readonly grace: number;
  readonly keyCreatedAt: Instant | null;
  /** v_key: from rekey_keyexpirydate when given, else the recorded validity. */
  readonly keyValidity: number;
  readonly primary: string | null;
  readonly secondary: string | null;
  readonly expired: boolean;
  readonly passwordChangedAt: Instant | null;
  readonly rotationStartedBy: string | null;
  readonly createdOn: Instant | null;
  readonly renewalEndsAt: Instant | null;
  readonly renewalState: 'None' | 'Renewing' | 'Expired' | null;
  readonly nextRenewalDate: Instant | null;
  readonly passwordRegenerationRequired: boolean | null;
  readonly proactiveReencryption: boolean;
}

export interface ObservedMachine {
  readonly source: string;
  readonly machineId: string;
  readonly name: string;
  readonly agentVersion: string;
  /** The group's id, or null for a machine outside any group. */
  readonly groupId: string | null;
  readonly status: MachineKeyDeliveryStatus;
  readonly keyReceivedAt: Instant | null;
  readonly lastHeartbeatAt: Instant | null;
}

export interface ObservedConnection {
  readonly source: string;
  readonly connectionId: string;
  readonly name: string;
  readonly target: { readonly type: 'group' | 'machine'; readonly name: string };
  readonly needsFix: boolean;
  readonly keyThumbprints: readonly string[];
  readonly lastUsedAt: Instant | null;
  readonly reencryptedAt: Instant | null;
}

/** One group as it will be imported: its keys, renewal and members worked out. */
export interface ImportedGroupPlan {
  readonly group: ObservedGroup;
  readonly keys: readonly ImportedKeyFacts[];
  readonly renewal: { readonly startsAt: Instant; readonly endsAt: Instant } | null;
  readonly members: readonly { readonly machine: ObservedMachine; readonly keyVersions: readonly number[] }[];
}

export interface ObservedFleet {
  readonly observedAt: Instant;
  readonly groups: readonly ImportedGroupPlan[];
  readonly connections: readonly ObservedConnection[];
  /** Machines outside any group: shown in the report, not imported (they take no part in renewals). */
  readonly loneMachines: readonly ObservedMachine[];
  /** Every problem found; with skipBad, the rows they name were left out. */
  readonly problems: readonly ImportProblem[];
  readonly files: readonly { readonly file: string; readonly table: ImportTable; readonly rows: number; readonly imported: number; readonly skipped: number }[];
}

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const MAX_TEXT = 1000;

class RowReader {
  readonly problems: ImportProblem[] = [];
  constructor(private readonly row: ExportRow, private readonly table: ImportTable) {}

  private add(column: string | undefined, reason: string): undefined {
    const { file, line, index } = this.row;
    this.problems.push({ file, ...(line !== undefined ? { line } : {}), ...(index !== undefined ? { index } : {}), ...(column !== undefined ? { column } : {}), reason });
    return undefined;
  }

  problem(column: string | undefined, reason: string): void {
    this.add(column, reason);
  }

  has(column: string): boolean {
    return this.row.cells.has(column);
  }

  private raw(column: string): unknown {
    const value = this.row.cells.get(column);
    return value === undefined ? null : value;
  }

  /** A present, non-null cell: else a problem "is missing/empty". */
  private present(column: string, expected: string): unknown {
    if (!this.row.cells.has(column)) return this.add(column, `is missing; expected ${expected}`);
    const value = this.raw(column);
    if (value === null) return this.add(column, `is empty; expected ${expected}`);
    return value;
  }

  id(column: string): string | undefined {
    const value = this.present(column, 'an id (letters, digits, ".", "_" or "-")');
    if (value === undefined) return undefined;
    const text = typeof value === 'string' ? value.replace(/^\{(.*)\}$/, '$1') : undefined;
    if (text === undefined || !ID_PATTERN.test(text)) return this.add(column, `${show(value)} is not an id; expected 1 to 100 letters, digits, ".", "_" or "-"`);
    return text;
  }

  name(column: string): string | undefined {
    const value = this.present(column, `a name (${NAME_RULE})`);
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || !NAME_PATTERN.test(value)) return this.add(column, `${show(value)} is not a valid name; expected ${NAME_RULE}`);
    return value;
  }

  text(column: string, required: boolean): string | null | undefined {
    const value = required ? this.present(column, 'text') : this.raw(column);
    if (value === undefined) return undefined;
    if (value === null) return null;
    if (typeof value !== 'string' || value.length > MAX_TEXT) return this.add(column, `${show(value)} is not text of at most ${MAX_TEXT} characters`);
    return value;
  }

  instant(column: string, required: boolean): Instant | null | undefined {
    const value = required ? this.present(column, 'an ISO-8601 instant such as 2030-06-01T00:00:00Z') : this.raw(column);
    if (value === undefined) return undefined;
    if (value === null) return null;
    if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}/.test(value)) {
      return this.add(column, `${show(value)} is not an ISO-8601 instant; expected e.g. 2030-06-01T00:00:00Z`);
    }
    try {
      return parseInstant(value.includes('T') ? value : `${value}T00:00:00Z`);
    } catch {
      return this.add(column, `${show(value)} is not an ISO-8601 instant; expected e.g. 2030-06-01T00:00:00Z`);
    }
  }

  minutes(column: string, check: (minutes: number) => number): number | undefined {
    const value = this.present(column, 'a whole number of minutes');
    if (value === undefined) return undefined;
    const number = typeof value === 'number' ? value : typeof value === 'string' && /^-?\d{1,16}$/.test(value.trim()) ? Number(value.trim()) : Number.NaN;
    if (!Number.isSafeInteger(number)) return this.add(column, `${show(value)} is not a whole number of minutes`);
    try {
      return check(number);
    } catch (error) {
      if (!isRekeyError(error)) throw error;
      return this.add(column, error.message);
    }
  }

  choice(column: string): number | null | undefined {
    const value = this.raw(column);
    if (value === null) return null;
    const code = choiceCode(this.table, column, value);
    if (code === undefined) return this.add(column, `${show(value)} is not a choice code of ${this.table}.${column}; expected ${choiceList(this.table, column)}`);
    return code;
  }

  boolean(column: string): boolean | null | undefined {
    const value = this.raw(column);
    if (value === null) return null;
    if (typeof value === 'boolean') return value;
    if (typeof value === 'string' && /^(true|false)$/i.test(value.trim())) return value.trim().toLowerCase() === 'true';
    return this.add(column, `${show(value)} is not a boolean; expected true or false`);
  }

  oneOf<T extends string>(column: string, values: readonly T[], required: boolean): T | null | undefined {
    const value = required ? this.present(column, values.join(' or ')) : this.raw(column);
    if (value === undefined) return undefined;
    if (value === null) return null;
    const found = values.find((v) => typeof value === 'string' && v.toLowerCase() === value.trim().toLowerCase());
    if (found === undefined) return this.add(column, `${show(value)} is not one of ${values.map((v) => JSON.stringify(v)).join(', ')}`);
    return found;
  }

  version(column: string): string | undefined {
    const value = this.present(column, 'a dotted version such as 2.23.116.23040');
    if (value === undefined) return undefined;
    try {
      parseAgentVersion(value);
      return value as string;
    } catch (error) {
      if (!isRekeyError(error)) throw error;
      return this.add(column, error.message);
    }
  }

  thumbprints(column: string): string[] | undefined {
    const value = this.raw(column);
    if (value === null) return [];
    const list = Array.isArray(value) ? value : typeof value === 'string' ? value.split(/[,;\s]+/).filter((t) => t !== '') : undefined;
    if (list === undefined || list.some((t) => typeof t !== 'string' || t.length === 0 || t.length > 200)) {
      return this.add(column, `${show(value)} is not a list of thumbprints; expected them comma-separated`);
    }
    return list as string[];
  }
}

function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 40)}... (${text.length} characters)` : text;
}

interface Located<T> {
  readonly row: ExportRow;
  readonly value: T;
}

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
  const groups: Located<ObservedGroup>[] = [];
  /** Ids and names of every group row, good or bad: a machine naming a bad one is told so. */
  const groupKeys = new Set<string>();
  for (const file of exports.filter((f) => f.table === 'flowmachinegroups')) {
    for (const row of file.rows) {
      const r = new RowReader(row, 'flowmachinegroups');
      const groupId = r.id('flowmachinegroupid');
      const name = r.name('name');
      for (const key of [row.cells.get('flowmachinegroupid'), row.cells.get('name')]) if (typeof key === 'string') groupKeys.add(key);
      const validity = r.minutes('keyvalidityperiod', checkValidity);
      const grace = validity === undefined ? r.minutes('keyexpirygraceperiod', (g) => g) : r.minutes('keyexpirygraceperiod', (g) => checkGrace(g, validity));
      const keyCreatedAt = r.instant('keycreationdate', false);
      const primary = r.text('primarypublickey', false);
      const secondary = r.text('secondarypublickey', false);
      if (keyCreatedAt === null && typeof primary === 'string') r.problem('keycreationdate', 'is empty but primarypublickey is set; expected the creation date of the primary key');
      if (typeof keyCreatedAt === 'number' && primary === null) r.problem('primarypublickey', 'is empty but keycreationdate is set; expected the thumbprint of the primary key');
      if (typeof secondary === 'string' && primary === null) r.problem('secondarypublickey', 'is set but primarypublickey is empty; a retiring key needs a primary one');
      const statecode = r.choice('statecode');
      const statuscode = r.choice('statuscode');
      const passwordChangedAt = r.instant('passwordchangeddate', false);
      const rotationStartedBy = r.text('rotationstartedby', false);
      const createdOn = r.instant('createdon', false);
      const modifiedOn = r.instant('modifiedon', false);
      const expiry = r.instant('rekey_keyexpirydate', false);
      const nextRenewal = r.instant('rekey_nextrenewaldate', false);
      const renewalEndsAt = r.instant('rekey_renewalendsat', false);
      const renewalState = r.oneOf('rekey_renewalstate', ['None', 'Renewing', 'Expired'] as const, false);
      const regenerate = r.boolean('rekey_passwordregenerationrequired');
      r.text('rekey_message', false);
      const proactive = r.boolean('rekey_proactivereencryption');
      if ((statecode === 1) !== (statuscode === 4) && statecode !== null && statuscode !== null && statecode !== undefined && statuscode !== undefined) {
        r.problem('statuscode', `${statuscode} does not go with statecode ${statecode}; expected statecode 0 with statuscode 1 (Active) or statecode 1 with statuscode 4 (KeyExpired)`);
      }
      let keyValidity = validity;
      if (typeof expiry === 'number' && typeof keyCreatedAt === 'number') {
        const minutes = (expiry - keyCreatedAt) / MS_PER_MINUTE;
        if (!Number.isInteger(minutes) || minutes <= 0) r.problem('rekey_keyexpirydate', `${toIso(expiry)} is not a whole number of minutes after keycreationdate ${toIso(keyCreatedAt)}`);
        else keyValidity = minutes;
      }
      for (const at of [keyCreatedAt, passwordChangedAt, createdOn, modifiedOn]) if (typeof at === 'number') instants.push(at);
      note(r, row);
      if (r.problems.length > 0) continue;
      groups.push({
        row,
        value: {
          source: row.file,
          groupId: groupId!,
          name: name!,
          validity: validity!,
          grace: grace!,
          keyCreatedAt: keyCreatedAt ?? null,
          keyValidity: keyValidity!,
          primary: primary ?? null,
          secondary: secondary ?? null,
          expired: statecode === 1 || statuscode === 4 || renewalState === 'Expired',
          passwordChangedAt: passwordChangedAt ?? null,
          rotationStartedBy: rotationStartedBy ?? null,
          createdOn: createdOn ?? null,
          renewalEndsAt: renewalEndsAt ?? null,
          renewalState: renewalState ?? null,
          nextRenewalDate: nextRenewal ?? null,
          passwordRegenerationRequired: regenerate ?? null,
          proactiveReencryption: proactive ?? false,
        },
      });
    }
  }
  unique(groups, (g) => g.groupId, 'flowmachinegroupid', 'id', problems, badRows);
  unique(groups, (g) => g.name, 'name', 'name', problems, badRows);

  // ---- machines ----
  const machines: Located<ObservedMachine>[] = [];
  for (const file of exports.filter((f) => f.table === 'flowmachines')) {
    for (const row of file.rows) {
      const r = new RowReader(row, 'flowmachines');
      const machineId = r.id('flowmachineid');
      const name = r.name('name');
      const agentVersion = r.version('agentversion');
      let groupId: string | null | undefined = null;
      if (!r.has('_flowmachinegroupid_value')) r.problem('_flowmachinegroupid_value', 'is missing; expected the id of the machine\'s group (or an empty cell for a machine outside any group)');
      else groupId = r.text('_flowmachinegroupid_value', false);
      const status = r.choice('keydeliverystatus');
      const keyReceivedAt = r.instant('keyreceiveddate', false);
      const lastHeartbeatAt = r.instant('lastheartbeatdate', false);
      r.choice('statecode');
      r.choice('statuscode');
      const createdOn = r.instant('createdon', false);
      const modifiedOn = r.instant('modifiedon', false);
      for (const at of [keyReceivedAt, lastHeartbeatAt, createdOn, modifiedOn]) if (typeof at === 'number') instants.push(at);
      note(r, row);
      if (r.problems.length > 0) continue;
      machines.push({
        row,
        value: {
          source: row.file,
          machineId: machineId!,
          name: name!,
          agentVersion: agentVersion!,
          groupId: groupId ?? null,
          // The seed: "If the value is empty or set to Default, your machine is up-to-date."
          status: (status ?? 1) as MachineKeyDeliveryStatus,
          keyReceivedAt: keyReceivedAt ?? null,
          lastHeartbeatAt: lastHeartbeatAt ?? null,
        },
      });
    }
  }
  unique(machines, (m) => m.machineId, 'flowmachineid', 'id', problems, badRows);
  unique(machines, (m) => m.name, 'name', 'name', problems, badRows);

  // ---- connections ----
  const connections: Located<ObservedConnection>[] = [];
  for (const file of exports.filter((f) => f.table === 'desktopflowconnections')) {
    for (const row of file.rows) {
      const r = new RowReader(row, 'desktopflowconnections');
      const connectionId = r.id('connectionid');
      const name = r.name('name');
      const targetType = r.oneOf('targettype', ['group', 'machine'] as const, true);
      const targetName = r.name('targetname');
      const status = r.oneOf('status', ['Connected', 'Fix connection'] as const, false);
      const keyThumbprints = r.thumbprints('keythumbprints');
      const lastUsedAt = r.instant('lastuseddate', false);
      const reencryptedAt = r.instant('reencrypteddate', false);
      for (const at of [lastUsedAt, reencryptedAt]) if (typeof at === 'number') instants.push(at);
      note(r, row);
      if (r.problems.length > 0) continue;
      connections.push({
        row,
        value: {
          source: row.file,
          connectionId: connectionId!,
          name: name!,
          target: { type: targetType!, name: targetName! },
          needsFix: status === 'Fix connection',
          keyThumbprints: keyThumbprints!,
          lastUsedAt: lastUsedAt ?? null,
          reencryptedAt: reencryptedAt ?? null,
        },
      });
    }
  }
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
    return { file: file.file, table: file.table, rows: file.rowCount, imported, skipped: file.rowCount - imported };
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

/** Reports every row whose key repeats an earlier row's (across files), and marks it bad. */
function unique<T>(items: readonly Located<T>[], key: (value: T) => string, column: string, what: string, problems: ImportProblem[], badRows: Set<ExportRow>): void {
  const first = new Map<string, ExportRow>();
  for (const item of items) {
    const value = key(item.value);
    const earlier = first.get(value);
    if (earlier === undefined) {
      first.set(value, item.row);
      continue;
    }
    const where = earlier.line !== undefined ? `${earlier.file} line ${earlier.line}` : `${earlier.file} value[${earlier.index}]`;
    problems.push({
      file: item.row.file,
      ...(item.row.line !== undefined ? { line: item.row.line } : {}),
      ...(item.row.index !== undefined ? { index: item.row.index } : {}),
      column,
      reason: `duplicate ${what} ${show(value)}, already at ${where}; expected each row once`,
    });
    badRows.add(item.row);
  }
}

/**
 * The keys, renewal and members' key versions of one group, from what its row shows (R3,
 * R10, R22). During a renewal with the new key issued, the retiring key (secondarypublickey) is
 * version 1 and the primary version 2; the window ends at rekey_renewalendsat when the export shows
 * it, else at the seed's "Creation Date + Grace Period" of the new key. A renewal whose key is not
 * issued yet shows as rekey_renewalstate Renewing or, in a plain Dataverse export, as members with
 * PendingNewKey.
 */
function planGroup(group: ObservedGroup, members: readonly ObservedMachine[], observedAt: Instant): ImportedGroupPlan {
  const keys: ImportedKeyFacts[] = [];
  let renewal: { startsAt: Instant; endsAt: Instant } | null = null;
  const c = group.keyCreatedAt;
  if (group.primary !== null && c !== null) {
    const notAfter = plusMinutes(c, group.keyValidity);
    if (group.secondary !== null && !group.expired) {
      const endsAt = group.renewalEndsAt ?? plusMinutes(c, group.grace);
      const startsAt = Math.min(c, plusMinutes(endsAt, -group.grace));
      keys.push({ version: 1, thumbprint: group.secondary, createdAt: toIso(plusMinutes(endsAt, -group.validity)), validityMinutes: group.validity, notAfter: toIso(endsAt), estimated: true });
      keys.push({ version: 2, thumbprint: group.primary, createdAt: toIso(c), validityMinutes: group.keyValidity, notAfter: toIso(notAfter), estimated: false });
      renewal = { startsAt, endsAt };
    } else {
      keys.push({ version: 1, thumbprint: group.primary, createdAt: toIso(c), validityMinutes: group.keyValidity, notAfter: toIso(notAfter), estimated: false });
      const pending = members.some((m) => m.status === 2);
      const renewing = !group.expired && (group.renewalState === 'Renewing' || (group.renewalState === null && pending));
      if (renewing) {
        const due = plusMinutes(c, Math.min(group.keyValidity, group.validity) - group.grace);
        const startsAt = group.nextRenewalDate ?? Math.min(due, observedAt);
        renewal = { startsAt, endsAt: group.renewalEndsAt ?? Math.min(notAfter, plusMinutes(startsAt, group.grace)) };
      }
    }
  }
  const newKeyIssued = keys.length === 2;
  const primaryVersion = keys.at(-1)?.version;
  return {
    group,
    keys,
    renewal,
    members: members.map((machine) => {
      let keyVersions: number[] = [];
      if (!group.expired && machine.status !== 3 && primaryVersion !== undefined) {
        keyVersions = newKeyIssued ? (machine.status === 1 ? [1, 2] : [1]) : [primaryVersion];
      }
      return { machine, keyVersions };
    }),
  };
}
