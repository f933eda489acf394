/**
 * `rekey import`: what it reads (Web API JSON, CSV with logical or display names), what it writes
 * (events that say they were observed), and every way an export can be malformed, each reported with
 * its file, line (CSV) or index (JSON), column and reason.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { isRekeyError, type RekeyError } from '../../src/kernel/errors.js';
import { parseInstant } from '../../src/domain/time.js';
import { parseCsv, toCsv } from '../../src/fleet/csv.js';
import type { ImportProblem } from '../../src/fleet/exportFiles.js';
import { IMPORT_STREAM, importFleet, readFleet } from '../../src/fleet/importer.js';
import { readWholeLog } from '../../src/store/logPages.js';
import { createInMemoryEventStore } from '../../src/store/memory.js';
import { queryTable } from '../../projections/index.js';
import { tempDir, writeJson } from './support.js';

const EXPORT = join(import.meta.dirname, '..', '..', 'examples', 'export');
const groupsJson = JSON.parse(readFileSync(join(EXPORT, 'flowmachinegroups.json'), 'utf8'));
const machinesJson = JSON.parse(readFileSync(join(EXPORT, 'flowmachines.json'), 'utf8'));

type Row = Record<string, unknown>;
const GROUP: Row = {
  flowmachinegroupid: 'g-1', name: 'Finance', keycreationdate: '2026-01-01T00:00:00Z', keyvalidityperiod: 2628000,
  keyexpirygraceperiod: 259200, primarypublickey: 'AAAA', secondarypublickey: null, statecode: 0, statuscode: 1,
};
const MACHINE: Row = {
  flowmachineid: 'm-1', name: 'FIN-01', agentversion: '2.23.116.23040', _flowmachinegroupid_value: 'g-1',
  keydeliverystatus: 1, keyreceiveddate: '2026-01-01T00:00:00Z', lastheartbeatdate: '2030-05-01T00:00:00Z',
};

function files(groups: Row[], machines: Row[] = []): string[] {
  const dir = tempDir();
  return [
    writeJson(dir, 'groups.json', { '@odata.context': '$metadata#flowmachinegroups', value: groups }),
    writeJson(dir, 'machines.json', { '@odata.context': '$metadata#flowmachines', value: machines }),
  ];
}

/** The problems readFleet reports (it must throw IMPORT_INVALID). */
function problems(paths: string[], options: { skipBad?: boolean } = {}): ImportProblem[] {
  try {
    readFleet(paths, options);
  } catch (error) {
    expect(isRekeyError(error, 'IMPORT_INVALID'), String(error)).toBe(true);
    expect((error as RekeyError).exitCode).toBe(2);
    return (error as RekeyError).details.problems as ImportProblem[];
  }
  throw new Error('expected IMPORT_INVALID');
}

const base = (p: ImportProblem) => p.file.split('/').pop();

describe('rekey import reads what rekey query prints', () => {
  it('imports the bundled export at its latest instant, observed, with the history before unknown', async () => {
    const store = createInMemoryEventStore();
    const fleet = readFleet([join(EXPORT, 'flowmachinegroups.json'), join(EXPORT, 'flowmachines.json'), join(EXPORT, 'desktopflowconnections.json')]);
    const report = await importFleet(store, fleet);
    expect(report).toMatchObject({ observedAt: '2030-05-15T00:00:00.000Z', groups: 4, machines: 15, connections: 9, skipped: [] });
    const log = await readWholeLog(store);
    expect(log[0]).toMatchObject({ stream: IMPORT_STREAM, type: 'StateImported', data: { historyBefore: 'unknown', observedAt: '2030-05-15T00:00:00.000Z' } });
    expect(new Set(log.slice(1).map((e) => e.type))).toEqual(new Set(['GroupImported', 'MachineImported', 'ConnectionImported']));
    expect(log.every((e) => e.metadata.occurredAt === '2030-05-15T00:00:00.000Z')).toBe(true);
    // The tables read back as exported (but the rows' own createdon/modifiedon: the import instant).
    const strip = (rows: Row[]) => rows.map(({ '@odata.etag': _e, createdon: _c, modifiedon: _m, ...rest }) => rest);
    expect(strip((await queryTable({ store, table: 'flowmachinegroups' })).value)).toEqual(strip(groupsJson.value));
    expect(strip((await queryTable({ store, table: 'flowmachines' })).value)).toEqual(strip(machinesJson.value));
  });

  it('reads CSV with display names and choice labels, as a Dataverse export to Excel writes it', async () => {
    const dir = tempDir();
    const groups = writeJson(dir, 'groups.csv', toCsv(
      ['Flow Machine Group', 'Name', 'Key Creation Date', 'Group Key Validity Period', 'Group Key Expiry Grace Period', 'Primary Public Key', 'Status', 'Status Reason'],
      [{ 'Flow Machine Group': 'g-1', Name: 'Finance', 'Key Creation Date': '2026-01-01', 'Group Key Validity Period': '2628000', 'Group Key Expiry Grace Period': '259200', 'Primary Public Key': 'AAAA', Status: 'Active', 'Status Reason': 'Active' }],
    ));
    const machines = writeJson(dir, 'machines.csv', toCsv(
      ['Flow Machine', 'Name', 'Agent Version', 'Flow Machine Group', 'Machine Key Delivery Status', 'Last Heartbeat Date'],
      [
        { 'Flow Machine': 'm-1', Name: 'FIN-01', 'Agent Version': '2.23.116.23040', 'Flow Machine Group': 'g-1', 'Machine Key Delivery Status': 'Default', 'Last Heartbeat Date': '2030-05-01T00:00:00Z' },
        { 'Flow Machine': 'm-2', Name: 'FIN-02', 'Agent Version': '2.22.0.0', 'Flow Machine Group': 'Finance', 'Machine Key Delivery Status': '', 'Last Heartbeat Date': '' },
      ],
    ));
    const fleet = readFleet([groups, machines]);
    expect(fleet.observedAt).toBe(parseInstant('2030-05-01T00:00:00Z'));
    expect(fleet.groups[0]!.members.map((m) => [m.machine.name, m.machine.status, m.keyVersions])).toEqual([['FIN-01', 1, [1]], ['FIN-02', 1, [1]]]);
  });

  it('takes --as-of, any instant, and reads a renewal under way from a plain Dataverse export', () => {
    const renewing = { ...GROUP, keycreationdate: '2030-07-10T00:00:00Z', secondarypublickey: 'OLD' };
    const fleet = readFleet(files([renewing], [MACHINE, { ...MACHINE, flowmachineid: 'm-2', name: 'FIN-02', keydeliverystatus: 2 }]), { asOf: parseInstant('2030-08-01T00:00:00Z') });
    const plan = fleet.groups[0]!;
    expect(plan.keys.map((k) => [k.version, k.thumbprint, k.estimated])).toEqual([[1, 'OLD', true], [2, 'AAAA', false]]);
    // The seed: "the time frame between the Creation Date and the Creation Date + Grace Period".
    expect(plan.renewal).toEqual({ startsAt: parseInstant('2030-07-10T00:00:00Z'), endsAt: parseInstant('2031-01-06T00:00:00Z') });
    expect(plan.members.map((m) => m.keyVersions)).toEqual([[1, 2], [1]]);
  });

  it('leaves machines outside any group out, and says so', async () => {
    const fleet = readFleet(files([GROUP], [MACHINE, { ...MACHINE, flowmachineid: 'm-9', name: 'LONE', _flowmachinegroupid_value: null }]));
    expect(fleet.loneMachines.map((m) => m.name)).toEqual(['LONE']);
    const report = await importFleet(createInMemoryEventStore(), fleet);
    expect(report.ignoredMachines).toEqual(['LONE']);
  });

  it('imports into a new or empty store only', async () => {
    const store = createInMemoryEventStore();
    await importFleet(store, readFleet(files([GROUP], [MACHINE])));
    await expect(importFleet(store, readFleet(files([GROUP], [MACHINE])))).rejects.toMatchObject({ code: 'STORE_NOT_EMPTY' });
  });
});

describe('malformed exports: every problem with its file, row, column and reason', () => {
  it('an unknown column (JSON key)', () => {
    const [p] = problems(files([{ ...GROUP, keycolour: 'blue' }]));
    expect(p).toMatchObject({ index: 0, column: 'keycolour' });
    expect(p!.reason).toMatch(/^is not a column of flowmachinegroups; expected its logical names/);
  });

  it('an unknown column in a CSV header refuses the whole file, --skip-bad or not', () => {
    const dir = tempDir();
    const file = writeJson(dir, 'g.csv', 'flowmachinegroupid,name,keycreationdate,keyvalidityperiod,keyexpirygraceperiod,primarypublickey,colour\r\ng-1,A,2026-01-01T00:00:00Z,2628000,259200,AA,red\r\n');
    const [p] = problems([file], { skipBad: true });
    expect(p).toMatchObject({ line: 1 });
    expect(p!.reason).toBe('column "colour" of the header is not a column of flowmachinegroups; expected flowmachinegroupid, name, keycreationdate, keyvalidityperiod, keyexpirygraceperiod, primarypublickey, ...');
  });

  it('bad dates', () => {
    const list = problems(files([{ ...GROUP, keycreationdate: '2030-13-45T00:00:00Z' }], [{ ...MACHINE, lastheartbeatdate: 'yesterday' }]));
    expect(list.map((p) => [base(p), p.index, p.column, p.reason])).toEqual([
      ['groups.json', 0, 'keycreationdate', '"2030-13-45T00:00:00Z" is not an ISO-8601 instant; expected e.g. 2030-06-01T00:00:00Z'],
      ['machines.json', 0, 'lastheartbeatdate', '"yesterday" is not an ISO-8601 instant; expected e.g. 2030-06-01T00:00:00Z'],
    ]);
  });

  it('bad choice codes (a label is fine)', () => {
    const list = problems(files([{ ...GROUP, statecode: 7 }], [{ ...MACHINE, keydeliverystatus: 'Pending' }, { ...MACHINE, flowmachineid: 'm-2', name: 'FIN-02', keydeliverystatus: 'PendingNewKey' }]));
    expect(list.map((p) => [p.column, p.reason])).toEqual([
      ['statecode', '7 is not a choice code of flowmachinegroups.statecode; expected 0 (Active), 1 (Inactive)'],
      ['keydeliverystatus', '"Pending" is not a choice code of flowmachines.keydeliverystatus; expected 1 (Default), 2 (PendingNewKey), 3 (KeyExpired)'],
      ['_flowmachinegroupid_value', '"g-1" names a group whose row is bad; expected the flowmachinegroupid of a row of the flowmachinegroups export'],
    ]);
  });

  it('R1, R2 and malformed versions, with the rules\' own messages', () => {
    const list = problems(files([{ ...GROUP, keyvalidityperiod: 100 }, { ...GROUP, flowmachinegroupid: 'g-2', name: 'HR', keyexpirygraceperiod: 2000000 }], [{ ...MACHINE, agentversion: 'v2.23' }]));
    expect(list.map((p) => p.reason)).toEqual([
      'keyValidityPeriod 100 is below the minimum of 129600 minutes (three months)',
      'keyExpiryGracePeriod 2000000 is above the maximum of 1314000 minutes (half of keyValidityPeriod 2628000)',
      'agentVersion "v2.23" is not a dotted version number; expected up to four numbers such as 2.23.116.23040',
    ]);
  });

  it('duplicate ids and names, across files', () => {
    const list = problems(files([GROUP, { ...GROUP, name: 'Other' }, { ...GROUP, flowmachinegroupid: 'g-3' }]));
    expect(list.map((p) => [p.index, p.column, p.reason.replace(/at \S+groups\.json/, 'at groups.json')])).toEqual([
      [1, 'flowmachinegroupid', 'duplicate id "g-1", already at groups.json value[0]; expected each row once'],
      [2, 'name', 'duplicate name "Finance", already at groups.json value[0]; expected each row once'],
    ]);
  });

  it('a machine naming a group not in the export; a member of a group with no key', () => {
    const keyless = { ...GROUP, flowmachinegroupid: 'g-2', name: 'Empty', keycreationdate: null, primarypublickey: null };
    const list = problems(files([GROUP, keyless], [{ ...MACHINE, _flowmachinegroupid_value: 'g-404' }, { ...MACHINE, flowmachineid: 'm-2', name: 'X', _flowmachinegroupid_value: 'g-2' }]));
    expect(list.map((p) => [p.index, p.column, p.reason])).toEqual([
      [0, '_flowmachinegroupid_value', '"g-404" names no group of the export; expected the flowmachinegroupid of a row of the flowmachinegroups export'],
      [1, '_flowmachinegroupid_value', 'machine group Empty has no key (primarypublickey is empty), so it cannot have members; the first machine that joins issues the key'],
    ]);
  });

  it('empty files, non-JSON, wrong shapes', () => {
    const dir = tempDir();
    const cases: [string, string, RegExp][] = [
      ['empty.json', '', /^the file is empty; expected a Dataverse export/],
      ['blank.csv', '\n\n', /^the file is empty/],
      ['broken.json', '{"value": [', /^is not valid JSON at line 1, column 12/],
      ['array.json', '[{"name": "x"}]', /^holds an array at the top; expected a Dataverse Web API response \{"value": \[rows\]\}/],
      ['rows.json', '{"rows": []}', /^has the top-level key "rows"/],
      ['object.json', '{"value": {"name": "x"}}', /^has a "value" that is not an array/],
      ['none.json', '{"value": []}', /^holds no rows \("value" is empty\) and no @odata.context/],
      ['context.json', '{"@odata.context": "$metadata#accounts", "value": []}', /^has @odata.context "\$metadata#accounts", which names no table rekey imports/],
      ['what.json', '{"value": [{"colour": "red"}]}', /^has columns \(colour\) that do not tell which table it holds/],
      ['header.csv', 'name\r\n', /^has a header \(name\) that does not tell which table/],
      ['quote.csv', 'flowmachineid,name\r\n"m-1,FIN-01\r\n', /^is not valid CSV at line 2: a quoted field is not closed/],
      ['nodata.csv', 'flowmachineid,name,agentversion,_flowmachinegroupid_value\r\n', /^has a header but no rows/],
    ];
    for (const [name, text, reason] of cases) {
      const [p] = problems([writeJson(dir, name, text)]);
      expect(p!.reason, name).toMatch(reason);
    }
    const [p] = problems([join(dir, 'missing.json')]);
    expect(p!.reason).toMatch(/^cannot read the file/);
  });

  it('rows that are not objects, and CSV lines with the wrong number of fields', () => {
    const dir = tempDir();
    const [a] = problems([writeJson(dir, 'g.json', { '@odata.context': '$metadata#flowmachinegroups', value: [GROUP, 'row'] })]);
    expect(a).toMatchObject({ index: 1, reason: 'is a string; expected a row object' });
    const [b] = problems([writeJson(dir, 'g.csv', 'flowmachinegroupid,name,keycreationdate,keyvalidityperiod,keyexpirygraceperiod,primarypublickey\r\ng-1,A,2026-01-01T00:00:00Z,2628000,259200\r\n')]);
    expect(b).toMatchObject({ line: 2, reason: 'has 5 fields; expected 6, one per header column' });
  });

  it('a file with any bad row imports nothing; --skip-bad imports the good rows and lists the bad ones', async () => {
    const paths = files([GROUP, { ...GROUP, flowmachinegroupid: 'g-2', name: 'HR', keyvalidityperiod: 'long' }], [MACHINE, { ...MACHINE, flowmachineid: 'm-2', name: 'HR-01', _flowmachinegroupid_value: 'g-2' }]);
    const list = problems(paths);
    expect(list.map((p) => [base(p), p.index, p.column])).toEqual([['groups.json', 1, 'keyvalidityperiod'], ['machines.json', 1, '_flowmachinegroupid_value']]);
    expect(list[1]!.reason).toMatch(/^"g-2" names a group whose row is bad/);
    const store = createInMemoryEventStore();
    const report = await importFleet(store, readFleet(paths, { skipBad: true }));
    expect(report).toMatchObject({ groups: 1, machines: 1 });
    expect(report.files.map((f) => [f.rows, f.imported, f.skipped])).toEqual([[2, 1, 1], [2, 1, 1]]);
    expect(report.skipped.map((s) => s.where.replace(/^\S*\//, ''))).toEqual(['groups.json value[1].keyvalidityperiod', 'machines.json value[1]._flowmachinegroupid_value']);
  });
});

describe('CSV', () => {
  it('round-trips quotes, commas and line breaks, and tells the line of each record', () => {
    const text = toCsv(['a', 'b'], [{ a: 'x,"y"', b: 'line\nbreak' }, { a: null, b: 3 }]);
    const parsed = parseCsv(text);
    expect(parsed).toEqual({ ok: true, records: [{ line: 1, cells: ['a', 'b'] }, { line: 2, cells: ['x,"y"', 'line\nbreak'] }, { line: 4, cells: ['', '3'] }] });
  });
});

describe('the bundled export files', () => {
  let json: ReturnType<typeof readFleet>;
  beforeAll(() => {
    json = readFleet(['flowmachinegroups', 'flowmachines', 'desktopflowconnections'].map((t) => join(EXPORT, `${t}.json`)));
  });
  it('CSV and JSON describe the same fleet', () => {
    const csv = readFleet(['flowmachinegroups', 'flowmachines', 'desktopflowconnections'].map((t) => join(EXPORT, `${t}.csv`)));
    const view = (f: typeof json) => ({ observedAt: f.observedAt, groups: f.groups.map((g) => ({ ...g, group: { ...g.group, source: '' }, members: g.members.map((m) => ({ ...m, machine: { ...m.machine, source: '' } })) })) });
    expect(view(csv)).toEqual(view(json));
  });
});
