/**
 * A Dataverse export of a synthetic fleet, written the way the Web API returns rows (`{"value":
 * [...]}`, the columns of Microsoft's flowmachinegroup and flowmachine tables): `groups` machine
 * groups, each with one member on the current key. For the import and service benchmarks and the
 * import kill test, which need a fleet of any size in `rekey import`'s input format.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Ids shaped as GUIDs: `kind` 1 for groups, 2 for machines. */
const guid = (kind: number, i: number) => `${kind.toString(16).padStart(8, '0')}-0000-4000-8000-${i.toString(16).padStart(12, '0')}`;

export const groupName = (i: number) => `Group-${String(i).padStart(4, '0')}`;

/** Writes flowmachinegroups.json and flowmachines.json into `dir`; returns their paths. */
export function writeFleetExport(dir: string, groups: number): string[] {
  const groupRows = [];
  const machineRows = [];
  for (let i = 0; i < groups; i++) {
    const groupId = guid(1, i);
    groupRows.push({
      flowmachinegroupid: groupId,
      name: groupName(i),
      keycreationdate: '2029-10-07T00:00:00Z',
      keyvalidityperiod: 525600,
      keyexpirygraceperiod: 129600,
      primarypublickey: i.toString(16).toUpperCase().padStart(64, 'A'),
      secondarypublickey: null,
      statecode: 0,
      statuscode: 1,
      createdon: '2029-10-07T00:00:00Z',
      modifiedon: '2030-01-01T00:00:00Z',
    });
    machineRows.push({
      flowmachineid: guid(2, i),
      name: `M-${String(i).padStart(4, '0')}`,
      agentversion: '2.23.116.23040',
      _flowmachinegroupid_value: groupId,
      keydeliverystatus: 1,
      keyreceiveddate: '2029-10-07T00:00:00Z',
      lastheartbeatdate: '2030-05-15T00:00:00Z',
      statecode: 0,
      statuscode: 1,
    });
  }
  const files = [join(dir, 'flowmachinegroups.json'), join(dir, 'flowmachines.json')];
  writeFileSync(files[0]!, JSON.stringify({ '@odata.context': '$metadata#flowmachinegroups', value: groupRows }));
  writeFileSync(files[1]!, JSON.stringify({ '@odata.context': '$metadata#flowmachines', value: machineRows }));
  return files;
}
