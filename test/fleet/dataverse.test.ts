/**
 * `rekey import` reads what Dataverse and Excel really export, and each shape forecasts. The
 * fixtures in test/fleet/fixtures/dataverse/ were written by hand from Microsoft's published table
 * reference for flowmachinegroup and flowmachine (see the README there for every column's source),
 * never from rekey's output. They all describe one fleet, observed on 2030-05-15 at 06:58:21 UTC:
 * - HR (EU): key of 2026-01-10, five years, six-month grace; HR-01 up to date, HR-02 on agent 2.22;
 * - Finance: key of 2029-10-07, 525,600 minutes, 129,600 grace; FIN-01 online, FIN-02 silent since March.
 * So every shape must give the same forecast, worked out by hand from R3: HR (EU) renews from
 * 2030-07-13 to 2031-01-09 and HR-02 misses it (below 2.23, R8); Finance renews from 2030-07-09 to
 * 2030-10-07 and FIN-02 misses it (offline: its last heartbeat is months before the start).
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isRekeyError, type RekeyError } from '../../src/kernel/errors.js';
import type { ImportProblem } from '../../src/fleet/exportFiles.js';
import { forecast } from '../../src/fleet/forecast.js';
import { importFleet, readFleet } from '../../src/fleet/importer.js';
import { createInMemoryEventStore } from '../../src/store/memory.js';
import { queryTable } from '../../projections/index.js';
import { keys, tempDir, writeJson } from './support.js';

const FIXTURES = join(import.meta.dirname, 'fixtures', 'dataverse');
const at = (dir: string, ...names: string[]) => names.map((name) => join(FIXTURES, dir, name));

const SHAPES: Record<string, { files: string[]; observedAt: string; encoding: string; delimiter?: string; locale?: string; ignored: (file: string) => string[] }> = {
  'Web API, full rows with system columns and annotations': {
    files: at('webapi-full', 'flowmachinegroups.json', 'flowmachines.json'),
    observedAt: '2030-05-15T06:58:21.000Z', encoding: 'utf-8',
    ignored: (file) => (file.endsWith('flowmachinegroups.json') ? ['@odata.etag', 'description', '_passwordchangedby_value', 'versionnumber', 'iscustomizable'] : ['@odata.etag', 'hostingtype', '_ownerid_value', 'versionnumber']),
  },
  'Web API, paged with @odata.nextLink, every page': {
    files: at('webapi-paged', 'flowmachinegroups.json', 'flowmachines-page1.json', 'flowmachines-page2.json'),
    observedAt: '2030-05-15T06:58:21.000Z', encoding: 'utf-8', ignored: () => ['@odata.etag'],
  },
  'Export to Excel CSV (UTF-8 with BOM, (Do Not Modify) columns, display names, en-US dates and numbers, lookups by name)': {
    files: at('excel-en-US', 'Flow Machine Groups.csv', 'Flow Machines.csv'),
    observedAt: '2030-05-15T06:58:00.000Z', encoding: 'utf-8 with BOM', delimiter: ',', locale: 'en-US',
    ignored: (file) => (file.endsWith('Groups.csv') ? ['(Do Not Modify) Row Checksum', 'Owner'] : ['(Do Not Modify) Row Checksum', 'Flow Machine Hosting Type']),
  },
  'semicolon CSV from a German Excel (UTF-8 without BOM, sep=; line, de-DE dates and numbers)': {
    files: at('semicolon-de-DE', 'flowmachinegroups.csv', 'flowmachines.csv'),
    observedAt: '2030-05-15T06:58:00.000Z', encoding: 'utf-8', delimiter: ';', locale: 'de-DE', ignored: () => ['(Do Not Modify) Row Checksum'],
  },
  'Excel "Unicode Text" (UTF-16LE with BOM, tab-separated, en-GB dates)': {
    files: at('unicode-text-utf16le', 'Flow Machine Groups.txt', 'Flow Machines.txt'),
    observedAt: '2030-05-15T06:58:00.000Z', encoding: 'utf-16le', delimiter: 'tab', locale: 'en-GB', ignored: () => [],
  },
  'UTF-16BE with BOM, logical names, ISO instants with a space ("2030-05-15 06:58:21")': {
    files: at('utf16be-iso-space', 'flowmachinegroups.csv', 'flowmachines.csv'),
    observedAt: '2030-05-15T06:58:21.000Z', encoding: 'utf-16be', delimiter: ',', ignored: () => [],
  },
};

describe('every shape Dataverse and Excel export is imported, then forecast', () => {
  it.each(Object.entries(SHAPES))('%s', async (_name, shape) => {
    const fleet = readFleet(shape.files);
    expect(fleet.problems).toEqual([]);
    for (const file of fleet.files) {
      expect(file.encoding, file.file).toBe(shape.encoding);
      if (shape.delimiter !== undefined) expect(file.delimiter, file.file).toBe(shape.delimiter);
      if (shape.locale !== undefined) expect(file.locale, file.file).toBe(shape.locale);
      for (const column of shape.ignored(file.file)) expect(file.ignoredColumns, file.file).toContain(column);
    }
    const store = createInMemoryEventStore();
    const report = await importFleet(store, fleet);
    expect(report).toMatchObject({ observedAt: shape.observedAt, groups: 2, machines: 4 });
    const groups = (await queryTable({ store, table: 'flowmachinegroups' })).value;
    expect(groups.map((g) => [g.name, g.keycreationdate, g.keyvalidityperiod, g.keyexpirygraceperiod])).toEqual([
      ['Finance', '2029-10-07T00:00:00.000Z', 525600, 129600],
      ['HR (EU)', '2026-01-10T00:00:00.000Z', 2628000, 259200],
    ]);
    const machines = (await queryTable({ store, table: 'flowmachines', select: 'name,agentversion,_flowmachinegroupid_value,keydeliverystatus', orderby: 'name' })).value;
    expect(machines.map((m) => [m.name, m.agentversion, m._flowmachinegroupid_value, m.keydeliverystatus])).toEqual([
      ['FIN-01', '2.24.85.24080', '0c9d8e7f-6a5b-4c3d-8e2f-1a0b9c8d7e61', 1],
      ['FIN-02', '2.23.116.23040', '0c9d8e7f-6a5b-4c3d-8e2f-1a0b9c8d7e61', 1],
      ['HR-01', '2.23.116.23040', '6a1f3c2e-2b4d-4e8a-9f10-1c2d3e4f5a61', 1],
      ['HR-02', '2.22.301.22200', '6a1f3c2e-2b4d-4e8a-9f10-1c2d3e4f5a61', 1],
    ]);

    const result = await forecast(store, { keys });
    expect(result.groups.map((g) => [g.name, g.renewalStart, g.renewalEnd, g.verdict, g.willMiss.map((m) => [m.machine, m.code])])).toEqual([
      ['Finance', '2030-07-09T00:00:00.000Z', '2030-10-07T00:00:00.000Z', 'at risk', [['FIN-02', 'offline']]],
      ['HR (EU)', '2030-07-13T00:00:00.000Z', '2031-01-09T00:00:00.000Z', 'at risk', [['HR-02', 'agentOutdated']]],
    ]);
  }, 120_000);
});

describe('paging: a missing page is never silent', () => {
  const firstPageOnly = at('webapi-paged', 'flowmachinegroups.json', 'flowmachines-page1.json');

  it('a page with @odata.nextLink and no last page is an error that says so; nothing is imported', () => {
    let error: RekeyError | undefined;
    try {
      readFleet(firstPageOnly);
    } catch (e) {
      error = e as RekeyError;
    }
    expect(isRekeyError(error, 'IMPORT_INVALID')).toBe(true);
    expect(error!.message).toMatch(/^the export is incomplete \(nothing was imported\) \(1 problem\):\n\S+flowmachines-page1\.json: says more rows of flowmachines follow \(@odata\.nextLink https:\/\/contoso\.crm4\.dynamics\.com\/api\/data\/v9\.2\/flowmachines\?\$select=.*\), but no file holds the page without a next link \(the last page\); expected every page .*--allow-partial/);
  });

  it('--allow-partial imports the rows there are and records that the table is partial', async () => {
    const store = createInMemoryEventStore();
    const report = await importFleet(store, readFleet(firstPageOnly, { allowPartial: true }));
    expect(report).toMatchObject({ groups: 2, machines: 2 });
    expect(report.partial.map((p) => p.table)).toEqual(['flowmachines']);
    const [imported] = await store.readAll(1, 1);
    expect((imported!.data as { partialTables: unknown[] }).partialTables).toHaveLength(1);
  });

  it('fewer rows than @odata.count is incomplete too', () => {
    const dir = tempDir();
    const page = JSON.parse(JSON.stringify({ '@odata.context': '$metadata#flowmachines', '@odata.count': 3, value: [] }));
    const groups = writeJson(dir, 'g.json', { '@odata.context': '$metadata#flowmachinegroups', '@odata.count': 2, value: [{ flowmachinegroupid: 'g-1', name: 'A', keyvalidityperiod: 2628000, keyexpirygraceperiod: 259200 }] });
    expect(() => readFleet([groups, writeJson(dir, 'm.json', page)])).toThrow(/holds 1 rows of flowmachinegroups, but @odata.count says the table has 2/);
  });
});

describe('primarypublickey as Dataverse may hold it: thumbprint, PEM or base64 DER certificate', () => {
  it('derives the thumbprint (the SHA-256 openssl prints) and, with no keycreationdate, the key dates from the certificate', async () => {
    const store = createInMemoryEventStore();
    await importFleet(store, readFleet(at('primary-key-shapes', 'flowmachinegroups.json', 'flowmachines.json')));
    const groups = (await queryTable({ store, table: 'flowmachinegroups', orderby: 'name' })).value;
    // `openssl x509 -noout -fingerprint -sha256 -startdate -enddate` on fin.pem and lab.pem (README).
    expect(groups.map((g) => [g.name, g.primarypublickey, g.keycreationdate, g.rekey_keyexpirydate])).toEqual([
      ['Finance', '9E34E55F2ABADB5D38DB22BBCC6379D332EDCB18E8CD7550C9A973A0F3292415', '2026-12-03T16:13:26.000Z', '2031-12-02T16:13:26.000Z'],
      ['HR (EU)', '8F3B6C0A1E2D4F5A6B7C8D9E0F1A2B3C4D5E6F70', '2026-01-10T00:00:00.000Z', '2031-01-09T00:00:00.000Z'],
      ['Lab #2 / R&D', 'CE3181BDA7D87CBBF328D860E8ED6F13AA7B3A3904896129B2447EBB55F96D9D', '2026-12-03T16:13:27.000Z', '2031-12-02T16:13:27.000Z'],
    ]);
    const result = await forecast(store, { keys, until: Date.parse('2031-07-01T00:00:00Z') });
    const finance = result.groups.find((g) => g.name === 'Finance')!;
    // R3: notBefore + (2,628,000 - 259,200) minutes.
    expect(finance.renewalStart).toBe('2031-06-05T16:13:26.000Z');
  }, 120_000);

  it('a value longer than Dataverse\'s 25,000 characters is refused with the limit', () => {
    const dir = tempDir();
    const groups = writeJson(dir, 'g.json', { '@odata.context': '$metadata#flowmachinegroups', value: [{ flowmachinegroupid: 'g-1', name: 'A', keycreationdate: '2026-01-01T00:00:00Z', keyvalidityperiod: 2628000, keyexpirygraceperiod: 259200, primarypublickey: 'A'.repeat(25_001) }] });
    expect(() => readFleet([groups])).toThrow(/g\.json value\[0\]\.primarypublickey: "A+\.\.\. \(25003 characters\) holds 25001 characters; Dataverse stores at most 25000/);
  });
});

describe('bad input: file, line, column, the value and what was expected; nothing written', () => {
  it('a localized date that reads in no locale', async () => {
    const dir = tempDir();
    const machines = writeJson(dir, 'Flow Machines.csv', '\ufeff(Do Not Modify) Flow Machine;Name;Agent Version;Flow Machine Group;Last heartbeat date\r\nm-1;FIN-01;2.23.116.23040;;31.02.2030 06:58\r\n');
    const groups = writeJson(dir, 'Flow Machine Groups.csv', '(Do Not Modify) Flow Machine Group;Name;Group Key Validity Period;Group Key Expiry Grace Period\r\ng-1;Finance;525.600;129.600\r\n');
    let problems: ImportProblem[] = [];
    try {
      readFleet([groups, machines]);
    } catch (error) {
      problems = (error as RekeyError).details.problems as ImportProblem[];
    }
    expect(problems.map((p) => [p.file.split('/').pop(), p.line, p.column, p.reason])).toEqual([
      ['Flow Machines.csv', 2, 'lastheartbeatdate', '"31.02.2030 06:58" is not an instant: ISO-8601 such as 2030-06-01T18:30:00Z or 2030-06-01 18:30:00, or a date as de-DE writes it, such as "1.6.2030, 18:30"'],
    ]);
  });
});
