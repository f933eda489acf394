/**
 * `GET /api/data/v9.2/$metadata`: the CSDL document (OData 4.0 XML) that every answer's
 * `@odata.context` points to, for rekey's three entity sets, in Dataverse's own names: namespace
 * Microsoft.Dynamics.CRM, entity types flowmachinegroup / flowmachine named as the Web API reference
 * names them (https://learn.microsoft.com/en-us/power-apps/developer/data-platform/webapi/reference/flowmachinegroup),
 * keys flowmachinegroupid / flowmachineid, instants Edm.DateTimeOffset, choices and minutes Edm.Int32.
 * OData clients read it to type the rows; rekey's test suite reads it with an independent XML parser.
 */
import { COLUMNS, ID_COLUMN, TABLES, type TableName } from '../../projections/index.js';

export const METADATA_NAMESPACE = 'Microsoft.Dynamics.CRM';

/** The entity type of each entity set, as Dataverse names it (logical name, singular). */
export const ENTITY_TYPE: Readonly<Record<TableName, string>> = {
  flowmachinegroups: 'flowmachinegroup',
  flowmachines: 'flowmachine',
  desktopflowconnections: 'desktopflowconnection',
};

const INSTANTS = new Set([
  'keycreationdate', 'passwordchangeddate', 'createdon', 'modifiedon', 'rekey_keyexpirydate', 'rekey_nextrenewaldate',
  'rekey_renewalendsat', 'keyreceiveddate', 'lastheartbeatdate', 'lastuseddate', 'reencrypteddate',
]);
const INTEGERS = new Set(['keyvalidityperiod', 'keyexpirygraceperiod', 'statecode', 'statuscode', 'keydeliverystatus']);
const BOOLEANS = new Set(['rekey_passwordregenerationrequired', 'rekey_proactivereencryption']);
const GUIDS = new Set(['flowmachinegroupid', 'flowmachineid', '_flowmachinegroupid_value']);

export function edmType(column: string): string {
  if (INSTANTS.has(column)) return 'Edm.DateTimeOffset';
  if (INTEGERS.has(column)) return 'Edm.Int32';
  if (BOOLEANS.has(column)) return 'Edm.Boolean';
  if (GUIDS.has(column)) return 'Edm.Guid';
  return 'Edm.String';
}

/** The CSDL XML, one EntityType per table and one EntitySet each in the container "System". */
export function metadataDocument(): string {
  const types = TABLES.map((table) => {
    const key = ID_COLUMN[table];
    const properties = COLUMNS[table].map((column) => `        <Property Name="${column}" Type="${edmType(column)}"${column === key ? ' Nullable="false"' : ''} />`).join('\n');
    return `      <EntityType Name="${ENTITY_TYPE[table]}">\n        <Key>\n          <PropertyRef Name="${key}" />\n        </Key>\n${properties}\n      </EntityType>`;
  }).join('\n');
  const sets = TABLES.map((table) => `        <EntitySet Name="${table}" EntityType="${METADATA_NAMESPACE}.${ENTITY_TYPE[table]}" />`).join('\n');
  return `<?xml version="1.0" encoding="utf-8"?>
<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">
  <edmx:DataServices>
    <Schema Namespace="${METADATA_NAMESPACE}" Alias="mscrm" xmlns="http://docs.oasis-open.org/odata/ns/edm">
${types}
      <EntityContainer Name="System">
${sets}
      </EntityContainer>
    </Schema>
  </edmx:DataServices>
</edmx:Edmx>
`;
}
