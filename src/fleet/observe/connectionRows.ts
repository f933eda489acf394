/**
 * Reading the desktopflowconnections export: every cell of a connection row checked (ids, names,
 * its target, status, key thumbprints and dates).
 */
import type { ExportFile } from '../exportFiles.js';
import type { ObservedConnection } from './observed.js';
import { RowReader, type Located, type RowChecks } from './rowReader.js';

export function readConnectionRows(exports: readonly ExportFile[], { instants, note }: RowChecks): Located<ObservedConnection>[] {
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
  return connections;
}
