/**
 * The three tables of docs/model.md: entity set names, columns in the order rows show them,
 * id columns and the labels of choice columns. Choice columns hold bare integers; the label travels
 * beside them as `<column>@OData.Community.Display.V1.FormattedValue`, as the Dataverse Web API
 * returns it when asked for formatted values.
 */
import { RekeyError, errorKind } from '../src/kernel/errors.js';
import { FORMATTED_VALUE_SUFFIX, type Row } from '../src/query/index.js';

export type { Row };

export const TABLE_UNKNOWN = errorKind('TABLE_UNKNOWN', 'validation');

export const TABLES = ['flowmachinegroups', 'flowmachines', 'desktopflowconnections'] as const;
export type TableName = (typeof TABLES)[number];

export const GROUP_COLUMNS = [
  'flowmachinegroupid', 'name', 'keycreationdate', 'keyvalidityperiod', 'keyexpirygraceperiod', 'passwordchangeddate',
  'rotationstartedby', 'primarypublickey', 'secondarypublickey', 'statecode', 'statuscode', 'createdon', 'modifiedon',
  'rekey_keyexpirydate', 'rekey_nextrenewaldate', 'rekey_renewalendsat', 'rekey_renewalstate',
  'rekey_passwordregenerationrequired', 'rekey_message', 'rekey_proactivereencryption',
] as const;

export const MACHINE_COLUMNS = [
  'flowmachineid', 'name', 'agentversion', '_flowmachinegroupid_value', 'keydeliverystatus', 'keyreceiveddate',
  'lastheartbeatdate', 'statecode', 'statuscode', 'createdon', 'modifiedon',
] as const;

export const CONNECTION_COLUMNS = [
  'connectionid', 'name', 'targettype', 'targetname', 'status', 'keythumbprints', 'lastuseddate', 'reencrypteddate',
] as const;

export const COLUMNS: Readonly<Record<TableName, readonly string[]>> = {
  flowmachinegroups: GROUP_COLUMNS,
  flowmachines: MACHINE_COLUMNS,
  desktopflowconnections: CONNECTION_COLUMNS,
};

export const ID_COLUMN: Readonly<Record<TableName, string>> = {
  flowmachinegroups: 'flowmachinegroupid',
  flowmachines: 'flowmachineid',
  desktopflowconnections: 'connectionid',
};

/** Labels of the choice columns, by table, column and code. */
export const CHOICES: Readonly<Record<TableName, Readonly<Record<string, Readonly<Record<number, string>>>>>> = {
  flowmachinegroups: {
    statecode: { 0: 'Active', 1: 'Inactive' },
    statuscode: { 1: 'Active', 4: 'KeyExpired' },
  },
  flowmachines: {
    keydeliverystatus: { 1: 'Default', 2: 'PendingNewKey', 3: 'KeyExpired' },
    statecode: { 0: 'Active', 2: 'Maintenance' },
    statuscode: { 1: 'Active', 11: 'RequiresGroupKey' },
  },
  desktopflowconnections: {},
};

export const FORMATTED = FORMATTED_VALUE_SUFFIX;

/** `rekey_renewalstate` values (a text column: rekey's own, not a Dataverse choice). */
export type RenewalState = 'None' | 'Renewing' | 'Expired';

/** `status` of a desktop flow connection, as the portal shows it. */
export type ConnectionStatus = 'Connected' | 'Fix connection';

export function isTableName(name: unknown): name is TableName {
  return typeof name === 'string' && (TABLES as readonly string[]).includes(name);
}

/** The table, or TABLE_UNKNOWN (validation) naming the three tables. */
export function requireTable(name: unknown): TableName {
  if (isTableName(name)) return name;
  throw new RekeyError(
    TABLE_UNKNOWN,
    `unknown table ${JSON.stringify(name)}; the tables are: ${TABLES.join(', ')}`,
    { table: name, tables: [...TABLES] },
    'validation',
  );
}
