/**
 * The tables through one renewal, driven on the real engine with real keys (default settings:
 * v = 2,628,000 min = 1,825 days, g = 259,200 min = 180 days, so S = day 1645 and E = day 1825).
 *
 * The story runs once (beforeAll) with a read model following the store live; each step records its
 * log position and the live rows. Every test then reads the tables at one step through
 * `queryTable(... position)` (snapshots + replay) and checks that they equal what the live read
 * model showed at that moment.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PORTAL_MESSAGE } from '../../src/domain/group/state.js';
import { plusMinutes } from '../../src/domain/time.js';
import { createConnection, fixConnection } from '../../src/engine/portal.js';
import { openReadModel, queryTable, tablesAt, type ReadModel, type Row, type TableName } from '../../projections/index.js';
import { AGENT, day, iso, openWorld, T0, type World } from './support/world.js';

const V = 2_628_000;
const G = 259_200;
const S1 = day(1645);
const E1 = day(1825);
const FV = '@OData.Community.Display.V1.FormattedValue';
const PASSWORD = 'Tr1cky-Passw0rd';
const NEW_PASSWORD = 'Another-0ne';
const INVOICES = { username: 'CONTOSO\\svc-invoices', password: 'n0t-in-the-log' };
const PAYROLL = { username: 'CONTOSO\\svc-payroll', password: 'pa$$-payr0ll' };

type Step = 'joined' | 'beforeS' | 'renewalStarted' | 'keyIssued' | 'fin02Took' | 'invoicesRan' | 'expired' | 'regenerated' | 'rejoined' | 'payrollFixed';

describe('tables through one renewal (R7-R22)', () => {
  let world: World;
  let model: ReadModel;
  const marks = new Map<Step, { position: number; live: Record<TableName, Row[]> }>();
  const thumbprints: string[] = [];

  const mark = async (step: Step) => {
    const position = await world.head();
    await model.waitFor(position);
    marks.set(step, {
      position,
      live: { flowmachinegroups: model.rows('flowmachinegroups'), flowmachines: model.rows('flowmachines'), desktopflowconnections: model.rows('desktopflowconnections') },
    });
  };

  beforeAll(async () => {
    world = await openWorld();
    model = openReadModel({ store: world.store, snapshotEvery: 7 });
    await model.start();
    const { engine } = world;
    await engine.createGroup({ name: 'Finance' });
    await world.agent('FIN-01').join('Finance', PASSWORD);
    await world.at(day(1));
    await world.agent('FIN-02').join('Finance', PASSWORD);
    await world.at(day(2));
    await world.agent('FIN-03').join('Finance', PASSWORD);
    await world.at(day(3));
    await createConnection(engine, 'Invoices', { type: 'group', name: 'Finance' }, INVOICES);
    await createConnection(engine, 'Payroll', { type: 'group', name: 'Finance' }, PAYROLL);
    // FIN-02 checks in every 12 h from day 10 03:00; FIN-03 goes offline at day 100 12:00 for years.
    await world.at(day(10, 180));
    await engine.connectMachine('Finance', 'FIN-02', 720);
    await world.at(day(100, 720));
    await engine.disconnectMachine('Finance', 'FIN-03');
    await mark('joined');
    thumbprints.push(engine.group('Finance').keys[0]!.thumbprint);

    await world.at(plusMinutes(S1, -1));
    await mark('beforeS');
    await world.at(S1);
    await mark('renewalStarted');
    await world.agent('FIN-01').checkIn(); // R11: the first eligible machine issues the new key
    thumbprints.push(engine.group('Finance').keys[1]!.thumbprint);
    await mark('keyIssued');
    await world.at(day(1646));
    await world.agent('FIN-02').checkIn(); // R12
    await mark('fin02Took');
    await world.at(day(1647));
    await world.agent('FIN-01').run('Invoices'); // R14: holds both keys, re-encrypts
    await mark('invoicesRan');
    await world.at(E1);
    await mark('expired');
    await world.at(day(1830));
    await engine.connectMachine('Finance', 'FIN-03');
    await world.agent('FIN-01').regeneratePassword(NEW_PASSWORD);
    await mark('regenerated');
    await world.at(day(1831));
    await world.agent('FIN-03').rejoin(NEW_PASSWORD);
    await mark('rejoined');
    await world.at(day(1832));
    await fixConnection(engine, 'Payroll', PAYROLL);
    await mark('payrollFixed');
  }, 120_000);

  afterAll(async () => {
    await model?.close();
    await world?.close();
  });

  const rowsAt = async (step: Step, table: TableName, filter?: string): Promise<Row[]> =>
    (await queryTable({ readModel: model, table, position: marks.get(step)!.position, filter })).value;
  const group = async (step: Step) => (await rowsAt(step, 'flowmachinegroups'))[0]!;
  const machine = async (step: Step, name: string) => (await rowsAt(step, 'flowmachines', `name eq '${name}'`))[0]!;
  const connection = async (step: Step, name: string) => (await rowsAt(step, 'desktopflowconnections', `name eq '${name}'`))[0]!;

  it('R7: the first join creates the rows; members start with key delivery status Default', async () => {
    const finance = await group('joined');
    expect(finance).toMatchObject({
      name: 'Finance',
      keycreationdate: iso(T0),
      keyvalidityperiod: V,
      keyexpirygraceperiod: G,
      primarypublickey: thumbprints[0],
      secondarypublickey: null,
      passwordchangeddate: null,
      statecode: 0,
      [`statecode${FV}`]: 'Active',
      statuscode: 1,
      [`statuscode${FV}`]: 'Active',
      createdon: iso(T0),
      rekey_keyexpirydate: iso(plusMinutes(T0, V)),
      rekey_renewalstate: 'None',
      rekey_renewalendsat: null,
      rekey_passwordregenerationrequired: false,
      rekey_message: null,
      rekey_proactivereencryption: false,
    });
    const fin02 = await machine('joined', 'FIN-02');
    expect(fin02).toMatchObject({
      flowmachineid: 'm-FIN-02',
      agentversion: AGENT,
      _flowmachinegroupid_value: finance.flowmachinegroupid,
      [`_flowmachinegroupid_value${FV}`]: 'Finance',
      keydeliverystatus: 1,
      [`keydeliverystatus${FV}`]: 'Default',
      keyreceiveddate: iso(day(1)),
      statecode: 0,
      statuscode: 1,
      createdon: iso(day(1)),
    });
  });

  it('R3: with unchanged settings rekey_nextrenewaldate = keycreationdate + keyvalidityperiod - keyexpirygraceperiod', async () => {
    const finance = await group('beforeS');
    const expected = plusMinutes(Date.parse(String(finance.keycreationdate)), Number(finance.keyvalidityperiod) - Number(finance.keyexpirygraceperiod));
    expect(finance.rekey_nextrenewaldate).toBe(iso(expected));
    expect(finance.rekey_nextrenewaldate).toBe(iso(S1));
    expect(finance.rekey_renewalstate).toBe('None');
  });

  it('R10: at S every member is PendingNewKey and the group shows the portal message', async () => {
    const machines = await rowsAt('renewalStarted', 'flowmachines');
    expect(machines.map((m) => [m.name, m.keydeliverystatus, m[`keydeliverystatus${FV}`]])).toEqual([
      ['FIN-01', 2, 'PendingNewKey'],
      ['FIN-02', 2, 'PendingNewKey'],
      ['FIN-03', 2, 'PendingNewKey'],
    ]);
    expect(await group('renewalStarted')).toMatchObject({
      rekey_renewalstate: 'Renewing',
      rekey_renewalendsat: iso(E1),
      rekey_message: PORTAL_MESSAGE,
      rekey_passwordregenerationrequired: true,
      // R22: until the new key exists the primary is still the key being renewed, and this is its renewal.
      primarypublickey: thumbprints[0],
      secondarypublickey: null,
      rekey_nextrenewaldate: iso(S1),
    });
  });

  it('R11, R22: the issued key becomes the primary and the old one the secondary; the next renewal is the new primary\'s', async () => {
    expect(await group('keyIssued')).toMatchObject({
      primarypublickey: thumbprints[1],
      secondarypublickey: thumbprints[0],
      keycreationdate: iso(S1),
      rekey_keyexpirydate: iso(plusMinutes(S1, V)),
      rekey_nextrenewaldate: iso(plusMinutes(S1, V - G)),
      rotationstartedby: 'FIN-01',
      rekey_renewalstate: 'Renewing',
    });
    expect(await machine('keyIssued', 'FIN-01')).toMatchObject({ keydeliverystatus: 1, keyreceiveddate: iso(S1), modifiedon: iso(S1) });
    expect(await machine('keyIssued', 'FIN-02')).toMatchObject({ keydeliverystatus: 2, [`keydeliverystatus${FV}`]: 'PendingNewKey' });
  });

  it('R12: a member that checks in during the window takes the key: Default, keyreceiveddate set', async () => {
    expect(await machine('fin02Took', 'FIN-02')).toMatchObject({ keydeliverystatus: 1, [`keydeliverystatus${FV}`]: 'Default', keyreceiveddate: iso(day(1646)) });
    expect(await rowsAt('fin02Took', 'flowmachines', 'keydeliverystatus eq 2')).toHaveLength(1); // FIN-03, offline
  });

  it('R14: a run on a machine holding both keys re-encrypts the connection to both keys', async () => {
    expect(await connection('invoicesRan', 'Invoices')).toMatchObject({
      status: 'Connected',
      keythumbprints: `${thumbprints[0]},${thumbprints[1]}`,
      lastuseddate: iso(day(1647)),
      reencrypteddate: iso(day(1647)),
      targettype: 'group',
      targetname: 'Finance',
    });
    expect(await connection('invoicesRan', 'Payroll')).toMatchObject({ keythumbprints: thumbprints[0], lastuseddate: null, reencrypteddate: null });
  });

  it('R15: at E a member that missed the window is KeyExpired (statecode 2, statuscode 11 RequiresGroupKey)', async () => {
    expect(await machine('expired', 'FIN-03')).toMatchObject({
      keydeliverystatus: 3,
      [`keydeliverystatus${FV}`]: 'KeyExpired',
      statecode: 2,
      [`statecode${FV}`]: 'Maintenance',
      statuscode: 11,
      [`statuscode${FV}`]: 'RequiresGroupKey',
      modifiedon: iso(E1),
    });
    expect((await rowsAt('expired', 'flowmachines', 'keydeliverystatus eq 1')).map((m) => m.name)).toEqual(['FIN-01', 'FIN-02']);
  });

  it('R22: after E there is no secondary key and no renewal', async () => {
    expect(await group('expired')).toMatchObject({
      primarypublickey: thumbprints[1],
      secondarypublickey: null,
      rekey_renewalstate: 'None',
      rekey_renewalendsat: null,
      rekey_nextrenewaldate: iso(plusMinutes(S1, V - G)),
      statecode: 0,
      statuscode: 1,
      // R17: the message stays until a member regenerates the password.
      rekey_message: PORTAL_MESSAGE,
    });
  });

  it('R15: at E an unused connection shows "Fix connection" and keeps no ciphertext; the used one keeps the new key only', async () => {
    expect(await connection('expired', 'Payroll')).toMatchObject({ status: 'Fix connection', keythumbprints: null });
    expect(await connection('expired', 'Invoices')).toMatchObject({ status: 'Connected', keythumbprints: thumbprints[1] });
  });

  it('R17: regenerating the password clears the message and records passwordchangeddate; a rejoined machine is Default again', async () => {
    expect(await group('regenerated')).toMatchObject({ passwordchangeddate: iso(day(1830)), rekey_message: null, rekey_passwordregenerationrequired: false });
    expect(await machine('rejoined', 'FIN-03')).toMatchObject({ keydeliverystatus: 1, keyreceiveddate: iso(day(1831)), statecode: 0, statuscode: 1 });
  });

  it('R18: a fixed connection is Connected again, encrypted to the live key', async () => {
    expect(await connection('payrollFixed', 'Payroll')).toMatchObject({ status: 'Connected', keythumbprints: thumbprints[1] });
  });

  it('R21: lastheartbeatdate at several as-of instants, from session facts', async () => {
    const beats = async (asOf: number) => Object.fromEntries(
      (await queryTable({ readModel: model, table: 'flowmachines', asOf })).value.map((m) => [m.name, m.lastheartbeatdate]),
    );
    // Joined at T0 / day 1 / day 2, checking in daily from their join; FIN-02 every 12 h from day 10 03:00.
    expect(await beats(day(5, 60))).toEqual({ 'FIN-01': iso(day(5)), 'FIN-02': iso(day(5, 0)), 'FIN-03': iso(day(5)) });
    expect(await beats(day(20, 60))).toEqual({ 'FIN-01': iso(day(20)), 'FIN-02': iso(day(19, 900)), 'FIN-03': iso(day(20)) });
    // FIN-03 disconnects at day 100 12:00: its last check-in stays day 100 00:00.
    expect((await beats(day(100, 720)))['FIN-03']).toBe(iso(day(100)));
    expect((await beats(day(300)))['FIN-03']).toBe(iso(day(100)));
    expect((await beats(day(300, 1)))['FIN-01']).toBe(iso(day(300)));
    // Back online at day 1830 (a new session), rejoined at day 1831.
    expect((await beats(day(1830, 5)))['FIN-03']).toBe(iso(day(1830)));
    expect((await beats(day(1835, 5)))['FIN-03']).toBe(iso(day(1835)));
  });

  it('the tables read at each step through snapshots equal what the live read model showed then', async () => {
    for (const [step, { position, live }] of marks) {
      const { tables } = await tablesAt(model, { position });
      expect(tables, step).toEqual(live);
    }
  });

  it('rebuilding from the store alone gives the live read model\'s tables', async () => {
    const fromStore = await tablesAt(world.store);
    const head = await world.head();
    expect(fromStore.position).toBe(head);
    expect(fromStore.tables).toEqual(marks.get('payrollFixed')!.live);
  });
});

describe('R5, R16: settings changes and a group that misses its renewal', () => {
  let world: World;
  let model: ReadModel;

  beforeAll(async () => {
    world = await openWorld({ seed: 11 });
    model = openReadModel({ store: world.store, snapshotEvery: 5 });
  });

  afterAll(async () => {
    await model?.close();
    await world?.close();
  });

  const row = async (table: TableName, name: string, asOf?: number) =>
    (await queryTable({ readModel: model, table, filter: `name eq '${name}'`, asOf })).value[0]!;

  it('R4, R5: a shortened validity shows at once and moves rekey_nextrenewaldate to c + v - g; due at once, it is the pickup instant', async () => {
    const { engine } = world;
    await engine.createGroup({ name: 'Payroll' });
    await world.agent('PAY-01').join('Payroll', 'pw-Payroll-1');
    await world.at(day(100));
    await engine.setKeyValidityPeriod('Payroll', 518_400);
    // Recorded at once (R4); the renewal will start at c + min(v_key, v) - g = day 180, after the pickup.
    expect(await row('flowmachinegroups', 'Payroll')).toMatchObject({ keyvalidityperiod: 518_400, rekey_nextrenewaldate: iso(plusMinutes(T0, 518_400 - G)) });
    await world.at(day(101)); // picked up
    expect(await row('flowmachinegroups', 'Payroll')).toMatchObject({ rekey_nextrenewaldate: iso(day(180)), rekey_renewalstate: 'None' });

    // Grace down first (R2), then validity to 90 days: c + v - g = day 45 is past, so it is due at the pickup (R5).
    await world.at(day(110));
    await engine.setKeyExpiryGracePeriod('Payroll', 64_800);
    await engine.setKeyValidityPeriod('Payroll', 129_600);
    expect(await row('flowmachinegroups', 'Payroll')).toMatchObject({ keyvalidityperiod: 129_600, keyexpirygraceperiod: 64_800, rekey_nextrenewaldate: iso(day(111)) });
    await world.at(day(111));
    expect(await row('flowmachinegroups', 'Payroll')).toMatchObject({
      rekey_renewalstate: 'Renewing',
      rekey_renewalendsat: iso(day(111 + 45)), // R3, R5: the window lasts at most g
      rekey_nextrenewaldate: iso(day(111)),
    });
    await world.agent('PAY-01').checkIn(); // the new key is issued with the validity in force
    expect(await row('flowmachinegroups', 'Payroll')).toMatchObject({
      keycreationdate: iso(day(111)),
      rekey_keyexpirydate: iso(day(111 + 90)),
      rekey_nextrenewaldate: iso(day(111 + 90 - 45)),
    });
  });

  it('R16: when no member takes the new key, the group is Inactive / KeyExpired (statecode 1, statuscode 4) and its machines KeyExpired', async () => {
    const { engine } = world;
    await engine.createGroup({ name: 'Lab', keyValidityPeriod: 129_600, keyExpiryGracePeriod: 64_800 });
    await world.agent('LAB-01').join('Lab', 'pw-Lab-1');
    await engine.disconnectMachine('Lab', 'LAB-01'); // offline through the whole window
    const created = world.clock.now();
    await world.at(plusMinutes(created, 64_800)); // S
    expect(await row('flowmachinegroups', 'Lab')).toMatchObject({ rekey_renewalstate: 'Renewing', statecode: 0 });
    await world.at(plusMinutes(created, 129_600)); // E
    expect(await row('flowmachinegroups', 'Lab')).toMatchObject({
      statecode: 1,
      'statecode@OData.Community.Display.V1.FormattedValue': 'Inactive',
      statuscode: 4,
      'statuscode@OData.Community.Display.V1.FormattedValue': 'KeyExpired',
      rekey_renewalstate: 'Expired',
      rekey_nextrenewaldate: null,
      rekey_renewalendsat: null,
      secondarypublickey: null,
      rekey_message: null,
    });
    expect(await row('flowmachines', 'LAB-01')).toMatchObject({ keydeliverystatus: 3, statecode: 2, statuscode: 11 });
    // As of one minute before E the group was still renewing.
    expect(await row('flowmachinegroups', 'Lab', plusMinutes(created, 129_599))).toMatchObject({ statecode: 0, statuscode: 1, rekey_renewalstate: 'Renewing' });
  });
});
