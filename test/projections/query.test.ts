/**
 * The query entry point, the history of a row, the difference between two instants, and the read
 * model's own life (rows outliving membership, version bump, another log, catch-up after a pause).
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRekeyError } from '../../src/kernel/errors.js';
import { createConnection } from '../../src/engine/portal.js';
import { openSqliteEventStore } from '../../src/store/sqlite.js';
import {
  openReadModel,
  PROJECTION_VERSION,
  queryTable,
  rowHistory,
  tablesAt,
  tablesDiff,
  type ReadModel,
} from '../../projections/index.js';
import { day, iso, openWorld, type World } from './support/world.js';

const codeOf = async (promise: Promise<unknown>): Promise<string> => {
  try {
    await promise;
    return 'none';
  } catch (error) {
    return isRekeyError(error) ? `${error.code}/${error.kind}` : String(error);
  }
};

describe('queryTable, history and difference', () => {
  let world: World;
  let model: ReadModel;
  let afterJoin = 0;

  beforeAll(async () => {
    world = await openWorld({ seed: 9 });
    const { engine } = world;
    await engine.createGroup({ name: 'Finance' });
    await engine.createGroup({ name: 'HR', keyValidityPeriod: 129_600, keyExpiryGracePeriod: 64_800 });
    await world.agent('FIN-01').join('Finance', 'pw-Finance-1');
    await world.agent('HR-01').join('HR', 'pw-HR-1');
    await world.at(day(1));
    await world.agent('FIN-02').join('Finance', 'pw-Finance-1');
    await world.agent('HR-02', '2.22.0.0').join('HR', 'pw-HR-1');
    await createConnection(engine, 'Invoices', { type: 'group', name: 'Finance' }, { username: 'svc', password: 'n0t-in-the-log' });
    afterJoin = await world.head();
    await world.at(day(2));
    await engine.removeMachine('Finance', 'FIN-02');
    await world.at(day(45)); // HR's renewal starts (validity 90 days, grace 45)
    await world.agent('HR-01').checkIn();
    await world.at(day(90)); // HR-02 (2.22) never took the key: KeyExpired (R8, R15)
    await world.at(day(100));
    await engine.deleteGroup('HR');
    await engine.createGroup({ name: 'HR' }); // the name again, a new row
    model = openReadModel({ store: world.store, file: join(world.dir, 'q.read.db'), snapshotEvery: 3 });
  }, 60_000);

  afterAll(async () => {
    await model?.close();
    await world?.close();
  });

  it('answers in the Web API shape, with $count counting every match', async () => {
    const result = await queryTable({ readModel: model, table: 'flowmachines', filter: "startswith(name,'FIN')", select: 'name,_flowmachinegroupid_value', orderby: 'name desc', count: true, top: 1 });
    expect(result['@odata.context']).toBe('$metadata#flowmachines');
    expect(result['@odata.count']).toBe(2);
    expect(result.value).toEqual([{ '@odata.etag': expect.any(String), name: 'FIN-02', _flowmachinegroupid_value: null }]);
  });

  it('TABLE_UNKNOWN names the three tables; bad options fail before any event is read', async () => {
    const error = await queryTable({ store: world.store, table: 'flowmachine' }).catch((e: unknown) => e);
    expect(isRekeyError(error, 'TABLE_UNKNOWN')).toBe(true);
    expect((error as Error).message).toContain('flowmachinegroups, flowmachines, desktopflowconnections');
    expect((error as { kind: string }).kind).toBe('validation');
    expect(await codeOf(queryTable({ store: world.store, table: 'flowmachines', filter: 'nosuchcolumn eq 1' }))).toBe('ODATA_UNKNOWN_COLUMN/validation');
    expect(await codeOf(queryTable({ store: world.store, table: 'flowmachines', asOf: 'yesterday' }))).toBe('INSTANT_INVALID/validation');
    expect(await codeOf(queryTable({ store: world.store, table: 'flowmachines', asOf: day(1), position: 3 }))).toBe('AS_OF_CONFLICT/validation');
    expect(await codeOf(queryTable({ store: world.store, table: 'flowmachines', position: 10_000 }))).toBe('POSITION_OUT_OF_RANGE/validation');
  });

  it('the bare store and the read model answer the same, at the head and as of a position', async () => {
    for (const table of ['flowmachinegroups', 'flowmachines', 'desktopflowconnections']) {
      expect(await queryTable({ store: world.store, table })).toEqual(await queryTable({ readModel: model, table }));
      expect(await queryTable({ store: world.store, table, position: afterJoin })).toEqual(await queryTable({ readModel: model, table, position: afterJoin }));
    }
    expect((await queryTable({ readModel: model, table: 'flowmachines', position: 0 })).value).toEqual([]);
  });

  it('a machine row outlives its membership: the group lookup and the key status empty', async () => {
    const [fin02] = (await queryTable({ readModel: model, table: 'flowmachines', filter: "name eq 'FIN-02'" })).value;
    expect(fin02).toMatchObject({ flowmachineid: 'm-FIN-02', _flowmachinegroupid_value: null, keydeliverystatus: null, statecode: 0, statuscode: 1, modifiedon: iso(day(2)) });
    // Its heartbeat stopped when it left (R21): the last check-in before day 2.
    expect(fin02!.lastheartbeatdate).toBe(iso(day(1)));
  });

  it('history of a row: every change with its event, position and changed columns, by name or id', async () => {
    const history = await rowHistory(model, 'flowmachines', 'HR-02');
    expect(history).toMatchObject({ table: 'flowmachines', name: 'HR-02', id: 'm-HR-02' });
    expect(history.changes.map((change) => [change.event, change.changeType, change.changedColumns.filter((c) => c !== 'modifiedon')])).toEqual([
      ['MachineJoined', 'Create', expect.arrayContaining(['flowmachineid', 'keydeliverystatus'])],
      ['RenewalStarted', 'Update', ['keydeliverystatus']],
      ['MachineKeyExpired', 'Update', ['keydeliverystatus', 'statecode', 'statuscode']],
      ['MachineLeft', 'Update', ['_flowmachinegroupid_value', 'keydeliverystatus', 'keyreceiveddate', 'lastheartbeatdate', 'statecode', 'statuscode']],
    ]);
    expect(history.changes[2]!.row).toMatchObject({ keydeliverystatus: 3, statecode: 2, statuscode: 11, modifiedon: iso(day(90)) });
    // The same history from the bare store (one pass over the log) and by id.
    expect(await rowHistory(world.store, 'flowmachines', 'HR-02')).toEqual(history);
    expect(await rowHistory(model, 'flowmachines', 'm-HR-02')).toEqual(history);
  });

  it('history by name prefers the existing row; a deleted one is still found by its id', async () => {
    const current = await rowHistory(model, 'flowmachinegroups', 'HR');
    expect(current.changes.map((change) => change.event)).toEqual(['GroupCreated']);
    const deleted = (await tablesAt(model, { position: afterJoin })).tables.flowmachinegroups.find((row) => row.name === 'HR')!;
    const old = await rowHistory(model, 'flowmachinegroups', String(deleted.flowmachinegroupid));
    expect(old.changes[old.changes.length - 1]).toMatchObject({ event: 'GroupDeleted', changeType: 'Delete', row: null, changedColumns: [] });
    expect(await rowHistory(world.store, 'flowmachinegroups', String(deleted.flowmachinegroupid))).toEqual(old);
    expect(await codeOf(rowHistory(model, 'flowmachinegroups', 'Nobody'))).toBe('ROW_NOT_FOUND/not_found');
  });

  it('the difference between two instants, row by row', async () => {
    const diff = await tablesDiff(model, { asOf: day(1) }, { asOf: day(95) }, { tables: ['flowmachines', 'flowmachinegroups'] });
    const summary = diff.changes.map((change) => [change.table, change.name, change.changeType]);
    expect(summary).toEqual([
      ['flowmachines', 'FIN-01', 'Update'], // lastheartbeatdate only
      ['flowmachines', 'FIN-02', 'Update'],
      ['flowmachines', 'HR-01', 'Update'],
      ['flowmachines', 'HR-02', 'Update'],
      ['flowmachinegroups', 'HR', 'Update'],
    ]);
    expect(diff.changes[0]!.changedColumns).toEqual(['lastheartbeatdate']);
    expect(diff.changes[3]!.after).toMatchObject({ keydeliverystatus: 3 });
    expect(diff.from.instant).toBe(iso(day(1)));
  });
});

describe('the read model file', () => {
  it('rebuilds itself when written by another projection version, or for another log', async () => {
    const world = await openWorld({ seed: 3 });
    try {
      await world.engine.createGroup({ name: 'Finance' });
      await world.agent('FIN-01').join('Finance', 'pw-Finance-1');
      const file = join(world.dir, 'v.read.db');
      let model = openReadModel({ store: world.store, file });
      await model.catchUp();
      const rows = model.rows('flowmachines');
      expect(rows).toHaveLength(1);
      await model.close();

      const db = new Database(file);
      db.prepare("UPDATE rekey_read_meta SET value = ? WHERE key = 'version'").run(String(PROJECTION_VERSION + 1));
      db.prepare("UPDATE rekey_read_rows SET row = '{}'").run();
      db.close();
      model = openReadModel({ store: world.store, file });
      expect(model.checkpoint().position).toBe(0);
      await model.catchUp();
      expect(model.rows('flowmachines')).toEqual(rows);
      await model.close();

      // The same read model file against another log: the event at its checkpoint differs, so it starts over.
      const other = openSqliteEventStore({ file: join(world.dir, 'other.db') });
      await other.append('group-x', [{ type: 'GroupCreated', data: { groupId: 'x', name: 'Other', keyValidityPeriod: 2_628_000, keyExpiryGracePeriod: 259_200, proactiveReencryption: false, createdAt: iso(day(0)) }, metadata: { occurredAt: iso(day(0)), commandId: 'c', correlationId: 'c' } }], -1);
      model = openReadModel({ store: other, file });
      await model.catchUp();
      expect(model.rows('flowmachines')).toEqual([]);
      expect(model.rows('flowmachinegroups').map((row) => row.name)).toEqual(['Other']);
      await model.close();
      await other.close();
    } finally {
      await world.close();
    }
  });

  it('a live read model follows appends; after stop, catch-up resumes from the checkpoint', async () => {
    const world = await openWorld({ seed: 4 });
    try {
      const model = openReadModel({ store: world.store, file: join(world.dir, 'live.read.db'), snapshotEvery: 2 });
      await model.start();
      await world.engine.createGroup({ name: 'Finance' });
      await world.agent('FIN-01').join('Finance', 'pw-Finance-1');
      await model.waitFor(await world.head());
      expect(model.rows('flowmachines').map((row) => row.name)).toEqual(['FIN-01']);
      await model.stop();
      await world.at(day(3));
      await world.agent('FIN-02').join('Finance', 'pw-Finance-1');
      expect(model.rows('flowmachines').map((row) => row.name)).toEqual(['FIN-01']);
      const progress: number[] = [];
      await model.catchUp({ onProgress: (p) => void progress.push(p.applied) });
      expect(progress).toEqual([1]);
      expect(model.rows('flowmachines').map((row) => [row.name, row.lastheartbeatdate])).toEqual([['FIN-01', iso(day(3))], ['FIN-02', iso(day(3))]]);
      expect(model.snapshotPositions()).toEqual([2, 4]);
      await model.close();
    } finally {
      await world.close();
    }
  });

  it('two runners on one file: the one overtaken mid-catch-up starts again from what the other committed', async () => {
    const world = await openWorld({ seed: 6 });
    try {
      await world.engine.createGroup({ name: 'Finance' });
      for (const name of ['FIN-01', 'FIN-02', 'FIN-03']) await world.agent(name).join('Finance', 'pw-Finance-1');
      const file = join(world.dir, 'shared.read.db');
      const slow = openReadModel({ store: world.store, file, pageSize: 2 });
      const fast = openReadModel({ store: world.store, file });
      let overtaken = false;
      await slow.catchUp({
        onProgress: async () => {
          if (overtaken) return;
          overtaken = true;
          await fast.catchUp(); // commits the whole log while `slow` is half-way
        },
      });
      const head = await world.head();
      expect(overtaken).toBe(true);
      expect(slow.checkpoint().position).toBe(head);
      expect(fast.checkpoint().position).toBe(head);
      expect(slow.rows('flowmachines')).toEqual((await tablesAt(world.store)).tables.flowmachines);
      await slow.close();
      await fast.close();
    } finally {
      await world.close();
    }
  });
});
