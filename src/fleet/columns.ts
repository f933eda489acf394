/**
 * The columns `rekey import` reads (docs/model.md, Tables): the logical names `rekey query --json`
 * prints, and the display names a Dataverse or Excel export uses ("Key Creation Date", "Group Key
 * Validity Period", "Machine Key Delivery Status", ...). Names are matched case-insensitively and
 * without spaces, underscores or punctuation, so "Key Creation Date", "keycreationdate" and
 * "KEY_CREATION_DATE" are the same column.
 */
import { CHOICES, COLUMNS } from '../../projections/index.js';

export type ImportTable = 'flowmachinegroups' | 'flowmachines' | 'desktopflowconnections';
export const IMPORT_TABLES: readonly ImportTable[] = ['flowmachinegroups', 'flowmachines', 'desktopflowconnections'];

/** Display names and other spellings, by table, mapped to the logical name. */
const ALIASES: Readonly<Record<ImportTable, Readonly<Record<string, string>>>> = {
  flowmachinegroups: {
    'Flow Machine Group': 'flowmachinegroupid',
    'Flow Machine Group Id': 'flowmachinegroupid',
    'Machine Group': 'flowmachinegroupid',
    'Group Key Validity Period': 'keyvalidityperiod',
    'Group Key Expiry Grace Period': 'keyexpirygraceperiod',
    'Key Grace Period': 'keyexpirygraceperiod',
    'Grace Period': 'keyexpirygraceperiod',
    'Key Expiry Grace Period': 'keyexpirygraceperiod',
    'Validity Period': 'keyvalidityperiod',
    'Password Changed Date': 'passwordchangeddate',
    'Password Changed On': 'passwordchangeddate',
    'Rotation Started By': 'rotationstartedby',
    'Primary Public Key': 'primarypublickey',
    'Secondary Public Key': 'secondarypublickey',
    Status: 'statecode',
    'Status Reason': 'statuscode',
    'Created On': 'createdon',
    'Modified On': 'modifiedon',
  },
  flowmachines: {
    'Flow Machine': 'flowmachineid',
    'Flow Machine Id': 'flowmachineid',
    'Flow Machine Group': '_flowmachinegroupid_value',
    'Machine Group': '_flowmachinegroupid_value',
    Group: '_flowmachinegroupid_value',
    flowmachinegroupid: '_flowmachinegroupid_value',
    'Machine Key Delivery Status': 'keydeliverystatus',
    'Key Delivery Status': 'keydeliverystatus',
    'Key Received Date': 'keyreceiveddate',
    'Last Heartbeat Date': 'lastheartbeatdate',
    'Last Heartbeat': 'lastheartbeatdate',
    Status: 'statecode',
    'Status Reason': 'statuscode',
    'Created On': 'createdon',
    'Modified On': 'modifiedon',
  },
  desktopflowconnections: {
    'Connection Id': 'connectionid',
    Connection: 'connectionid',
    'Target Type': 'targettype',
    'Target Name': 'targetname',
    'Key Thumbprints': 'keythumbprints',
    'Last Used Date': 'lastuseddate',
    'Last Used': 'lastuseddate',
    'Reencrypted Date': 'reencrypteddate',
    'Re-encrypted Date': 'reencrypteddate',
  },
};

export function normalizeColumn(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]/g, '');
}

/** normalized spelling -> logical column, per table. */
const LOOKUP: Readonly<Record<ImportTable, ReadonlyMap<string, string>>> = Object.fromEntries(IMPORT_TABLES.map((table) => {
  const map = new Map<string, string>();
  for (const column of COLUMNS[table]) map.set(normalizeColumn(column), column);
  for (const [alias, column] of Object.entries(ALIASES[table])) map.set(normalizeColumn(alias), column);
  return [table, map];
})) as unknown as Record<ImportTable, ReadonlyMap<string, string>>;

/** The logical column a header names in this table, or undefined when the table has no such column. */
export function logicalColumn(table: ImportTable, header: string): string | undefined {
  return LOOKUP[table].get(normalizeColumn(header));
}

/** Columns that only this table has: they tell which table a file holds. */
const DISTINCTIVE: Readonly<Record<ImportTable, readonly string[]>> = {
  flowmachinegroups: ['flowmachinegroupid', 'keycreationdate', 'keyvalidityperiod', 'keyexpirygraceperiod', 'primarypublickey', 'secondarypublickey', 'passwordchangeddate', 'rotationstartedby'],
  flowmachines: ['flowmachineid', 'agentversion', '_flowmachinegroupid_value', 'keydeliverystatus', 'keyreceiveddate', 'lastheartbeatdate'],
  desktopflowconnections: ['connectionid', 'targettype', 'targetname', 'keythumbprints', 'lastuseddate', 'reencrypteddate'],
};

/** Key columns each table needs (beyond `name`); the rest may be absent. */
export const REQUIRED: Readonly<Record<ImportTable, readonly string[]>> = {
  flowmachinegroups: ['flowmachinegroupid', 'name', 'keycreationdate', 'keyvalidityperiod', 'keyexpirygraceperiod', 'primarypublickey'],
  flowmachines: ['flowmachineid', 'name', 'agentversion', '_flowmachinegroupid_value'],
  desktopflowconnections: ['connectionid', 'name', 'targettype', 'targetname', 'keythumbprints'],
};

/**
 * Which table a set of headers (column names) belongs to: the one whose distinctive columns they
 * name, by count; undefined when none or a tie (the caller says so).
 */
export function detectTable(headers: readonly string[]): ImportTable | undefined {
  const normalized = new Set(headers.map(normalizeColumn));
  const scores = IMPORT_TABLES.map((table) => ({
    table,
    score: DISTINCTIVE[table].filter((column) => {
      for (const [spelling, logical] of LOOKUP[table]) if (logical === column && normalized.has(spelling)) return true;
      return false;
    }).length,
  })).sort((a, b) => b.score - a.score);
  const [best, second] = scores;
  if (!best || best.score === 0 || (second && second.score === best.score)) return undefined;
  return best.table;
}

/** `value` of a choice column: the integer code, or its label (as an export with formatted values writes it). */
export function choiceCode(table: ImportTable, column: string, value: unknown): number | undefined {
  const labels = CHOICES[table][column];
  if (!labels) return undefined;
  if (typeof value === 'number') return Number.isInteger(value) && labels[value] !== undefined ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return labels[Number(text)] !== undefined ? Number(text) : undefined;
  for (const [code, label] of Object.entries(labels)) if (normalizeColumn(label) === normalizeColumn(text)) return Number(code);
  return undefined;
}

export function choiceList(table: ImportTable, column: string): string {
  const labels = CHOICES[table][column] ?? {};
  return Object.entries(labels).map(([code, label]) => `${code} (${label})`).join(', ');
}
