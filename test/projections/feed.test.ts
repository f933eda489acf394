/**
 * The change feed ("When a row is added, modified or deleted") on the real engine: filters on change
 * type, selected columns and an OData filter; exactly once and in log order; late subscribers from a
 * position; live delivery; Delete when a group is deleted.
 */
import { firstValueFrom, take, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRekeyError } from '../../src/kernel/errors.js';
import { createConnection } from '../../src/engine/portal.js';
import { changeFeed, openReadModel, Projection, replayInto, type ChangeFeedOptions, type ReadModel, type RowChange } from '../../projections/index.js';
import { day, iso, openWorld, type World } from './support/world.js';

const S = day(1645);
const E = day(1825);

describe('change feed', () => {
  let world: World;
  let model: ReadModel;
  let all: RowChange[] = [];
  const live: RowChange[] = [];
  const pending: RowChange[] = [];
  let liveOnlyFrom = 0;

  beforeAll(async () => {
    world = await openWorld({ seed: 5 });
    model = openReadModel({ store: world.store, snapshotEvery: 4 });
    const { engine } = world;
    // Subscribed before anything happens: it must see every change live, once, in order.
    changeFeed(world.store, { fromPosition: 1 }).subscribe((change) => live.push(change));
    await engine.createGroup({ name: 'Finance' });
    await world.agent('FIN-01').join('Finance', 'pw-Finance-1');
    await world.at(day(1));
    await world.agent('FIN-02').join('Finance', 'pw-Finance-1');
    await createConnection(engine, 'Invoices', { type: 'group', name: 'Finance' }, { username: 'svc', password: 'n0t-in-the-log' });
    // A subscriber that only wants what happens from now on, with the seed's trigger settings.
    liveOnlyFrom = (await world.head()) + 1;
    changeFeed(model, { tables: 'flowmachines', changeTypes: ['update'], columns: ['keydeliverystatus'], filter: 'keydeliverystatus eq 2' })
      .subscribe((change) => pending.push(change));
    await world.at(S); // R10: everyone PendingNewKey
    await world.agent('FIN-01').checkIn(); // R11: issues, Default
    await world.at(day(1646));
    await world.agent('FIN-02').checkIn(); // R12: takes the key, Default
    await world.at(E);
    await world.at(day(1900));
    await engine.deleteGroup('Finance'); // R19
    await replayInto(world.store, new Projection(), {}, { sink: (change) => all.push(change) });
    for (let waited = 0; live.length < all.length && waited < 5_000; waited += 20) await new Promise((r) => setTimeout(r, 20));
  }, 60_000);

  afterAll(async () => {
    await model?.close();
    await world?.close();
  });

  const collect = async (options: ChangeFeedOptions, count: number) =>
    firstValueFrom(changeFeed(model, options).pipe(take(count), toArray()));

  it('delivers every change live, exactly once and in log order', () => {
    expect(all.length).toBeGreaterThan(10);
    expect(live).toEqual(all);
    const keys = live.map((change) => `${change.position}/${change.table}/${change.id}`);
    expect(new Set(keys).size).toBe(keys.length);
    expect(live.map((change) => change.position)).toEqual([...live.map((change) => change.position)].sort((a, b) => a - b));
  });

  it('a late subscriber from position p gets exactly the changes from p on, from the nearest snapshot', async () => {
    for (const from of [1, 5, 9, Math.floor(all[all.length - 1]!.position / 2)]) {
      const expected = all.filter((change) => change.position >= from);
      expect(await collect({ fromPosition: from }, expected.length)).toEqual(expected);
    }
  });

  it('the seed\'s trigger: Update of keydeliverystatus to PendingNewKey (2), live only', () => {
    expect(pending.map((change) => [change.row.name, change.changedColumns, change.occurredAt])).toEqual([
      ['FIN-01', ['keydeliverystatus', 'modifiedon'], iso(S)],
      ['FIN-02', ['keydeliverystatus', 'modifiedon'], iso(S)],
    ]);
    expect(pending.every((change) => change.position >= liveOnlyFrom && change.row['keydeliverystatus@OData.Community.Display.V1.FormattedValue'] === 'PendingNewKey')).toBe(true);
  });

  it('selected columns: an Update fires only when one of them changed', async () => {
    const expected = all.filter((change) => change.table === 'flowmachinegroups' && (change.changeType !== 'Update' || change.changedColumns.includes('primarypublickey')));
    const got = await collect({ fromPosition: 1, tables: ['flowmachinegroups'], columns: ['primarypublickey'] }, expected.length);
    expect(got).toEqual(expected);
    // R22: the primary changes when key 1 is issued and when the renewal key is issued.
    expect(got.filter((change) => change.changeType === 'Update').map((change) => change.event)).toEqual(['KeyIssued', 'KeyIssued']);
  });

  it('R19: deleting a group is a Delete of its row (with its last values); its machines stay, without a group', async () => {
    const deletes = all.filter((change) => change.changeType === 'Delete');
    expect(deletes.map((change) => [change.table, change.name, change.event, change.changedColumns])).toEqual([['flowmachinegroups', 'Finance', 'GroupDeleted', []]]);
    expect(deletes[0]!.row.rekey_renewalstate).toBe('None');
    const got = await collect({ fromPosition: 1, changeTypes: ['Delete'] }, 1);
    expect(got).toEqual(deletes);
    const left = all.filter((change) => change.event === 'MachineLeft');
    expect(left.map((change) => [change.name, change.row._flowmachinegroupid_value, change.row.keydeliverystatus, change.changeType])).toEqual([
      ['FIN-01', null, null, 'Update'],
      ['FIN-02', null, null, 'Update'],
    ]);
  });

  it('an OData filter is evaluated on the row after the change', async () => {
    const expected = all.filter((change) => change.table === 'desktopflowconnections' && change.row.status === 'Fix connection');
    expect(expected.length).toBeGreaterThan(0);
    const got = await collect({ fromPosition: 1, tables: 'desktopflowconnections', filter: "status eq 'Fix connection'" }, expected.length);
    expect(got).toEqual(expected);
  });

  it('refuses unknown tables, change types and columns, and bad filters, before subscribing', () => {
    const code = (options: ChangeFeedOptions) => {
      try {
        changeFeed(model, options);
        return 'none';
      } catch (error) {
        return isRekeyError(error) ? `${error.code}/${error.kind}` : String(error);
      }
    };
    expect(code({ tables: 'machines' })).toBe('TABLE_UNKNOWN/validation');
    expect(code({ changeTypes: ['Upsert'] })).toBe('CHANGE_TYPE_UNKNOWN/validation');
    expect(code({ tables: 'flowmachines', columns: ['primarypublickey'] })).toBe('ODATA_UNKNOWN_COLUMN/validation');
    expect(code({ tables: 'flowmachines', filter: 'keydeliverystatus eq' })).toBe('ODATA_SYNTAX/validation');
    expect(code({ fromPosition: 0 })).toBe('POSITION_OUT_OF_RANGE/validation');
  });
});
