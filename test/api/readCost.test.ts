/**
 * What a read costs after a write (issue 18: OData fell from 2,404 requests/s alone to 57 under
 * writes, because every read after a write parsed and rendered every table again):
 * - The read model keeps its rows parsed: after a write that changed one group, reading the table
 *   again gives the very same row objects for the groups that did not change and a new one for the
 *   one that did, also when another process (a second read model on the same file) wrote it.
 * - A route that reads one table at the head of the log asks the read model for that table only.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openReadModel, type ReadModel, type TableName } from '../../projections/index.js';
import { logClock } from '../../src/api/clock.js';
import { createContext } from '../../src/api/context.js';
import { openWorld } from '../projections/support/world.js';

describe('reads after a write', () => {
  it('re-read only the rows that changed, whoever wrote them', async () => {
    const world = await openWorld({ seed: 18 });
    try {
      for (const name of ['Finance', 'HR', 'Payroll']) await world.engine.createGroup({ name });
      const file = join(world.dir, 'shared.read.db');
      const reader = openReadModel({ store: world.store, file });
      const writer = openReadModel({ store: world.store, file });
      await reader.catchUp();
      const before = reader.rows('flowmachinegroups');
      expect(before.map((row) => row.name)).toEqual(['Finance', 'HR', 'Payroll']);
      expect(reader.rows('flowmachinegroups')).toEqual(before);

      await world.engine.setProactiveReencryption('HR', true);
      await writer.catchUp(); // another runner brings the shared file up to date
      const after = reader.rows('flowmachinegroups');
      expect(after.map((row) => [row.name, row.rekey_proactivereencryption])).toEqual([['Finance', false], ['HR', true], ['Payroll', false]]);
      expect(after[0]).toBe(before[0]); // unchanged: not parsed again
      expect(after[2]).toBe(before[2]);
      expect(after[1]).not.toBe(before[1]);
      expect(() => {
        (after[0] as Record<string, unknown>).name = 'changed by a caller';
      }).toThrow(TypeError); // shared rows cannot be changed by one caller for the next
      await reader.close();
      await writer.close();
    } finally {
      await world.close();
    }
  });

  it('a read of one table at the head of the log reads that table only', async () => {
    const world = await openWorld({ seed: 19 });
    try {
      await world.engine.createGroup({ name: 'Finance' });
      const model = openReadModel({ store: world.store, file: join(world.dir, 'ctx.read.db') });
      const asked: TableName[] = [];
      const counting: ReadModel = new Proxy(model, {
        get(target, property, receiver) {
          if (property === 'rows') return (table: TableName, at?: number | null) => (asked.push(table), target.rows(table, at));
          return Reflect.get(target, property, receiver) as unknown;
        },
      });
      const clock = await logClock(world.store, world.clock);
      const ctx = createContext({ store: world.store, engine: world.engine, readModel: counting, clock });
      const snapshot = await ctx.tables({});
      expect(snapshot.tables.flowmachinegroups.map((row) => row.name)).toEqual(['Finance']);
      expect(asked).toEqual(['flowmachinegroups']);
      expect(snapshot.tables.flowmachinegroups).toBe(snapshot.tables.flowmachinegroups); // read once per snapshot
      expect(asked).toEqual(['flowmachinegroups']);
      clock.stop();
      await model.close();
    } finally {
      await world.close();
    }
  });
});
