/**
 * Reading the flowmachines export: every cell of a machine row checked (ids, names, the agent
 * version, its group's id, key delivery status and dates).
 */
import type { MachineKeyDeliveryStatus } from '../../domain/events.js';
import type { ExportFile } from '../exportFiles.js';
import type { ObservedMachine } from './observed.js';
import { RowReader, type Located, type RowChecks } from './rowReader.js';

export function readMachineRows(exports: readonly ExportFile[], { instants, note }: RowChecks): Located<ObservedMachine>[] {
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
  return machines;
}
