/**
 * The command line of issue 8 as users run it (the built binary): `rekey import`, `rekey forecast`,
 * `rekey whatif`, `rekey query --csv` and scenarios with `from`. The --json shapes are docs/contract.md's
 * section 7's (docs/contract.md), checked field by field; errors are `rekey: CODE: message` with
 * the kind's exit code, or `{"error": {"code", "message"}}` with --json and an empty stdout.
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { json, rekey, type CliResult } from '../cli/support.js';
import { tempDir, writeJson } from './support.js';

const EXPORT = join('examples', 'export');
const JSON_FILES = ['flowmachinegroups', 'flowmachines', 'desktopflowconnections'].map((t) => join(EXPORT, `${t}.json`));
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

type Json = Record<string, any>;

/** docs/contract.md's forecast shape, exactly: these keys with these types (extensions allowed beside them). */
function expectForecastShape(forecast: Json): void {
  expect(forecast.from).toMatch(ISO);
  expect(Array.isArray(forecast.groups)).toBe(true);
  for (const group of forecast.groups) {
    expect(typeof group.name).toBe('string');
    expect(group.renewalStart).toMatch(ISO);
    expect(group.renewalEnd).toMatch(ISO);
    expect(group.renewalEnd >= group.renewalStart).toBe(true);
    expect(['OK', 'at risk', 'will expire', 'beyond --until']).toContain(group.verdict);
    for (const miss of group.willMiss) {
      expect(typeof miss.machine).toBe('string');
      expect(typeof miss.reason).toBe('string');
    }
    for (const name of group.connectionsToFix) expect(typeof name).toBe('string');
    for (const item of group.todo) {
      expect(item.by).toMatch(ISO);
      expect(typeof item.what).toBe('string');
    }
  }
}

function expectError(result: CliResult, code: string, exit: number, message?: RegExp): void {
  expect(result.status, result.stderr).toBe(exit);
  expect(result.stdout).toBe('');
  expect(result.stderr.startsWith(`rekey: ${code}: `), result.stderr).toBe(true);
  if (message) expect(result.stderr).toMatch(message);
}

describe('rekey import, forecast and whatif on the bundled export', () => {
  const dir = tempDir();
  const db = join(dir, 'fleet.db');
  let imported: CliResult;
  let byDefault: CliResult;
  let withHabits: CliResult;
  let whatif: CliResult;

  beforeAll(() => {
    imported = rekey(['import', ...JSON_FILES, '--db', db, '--json']);
    byDefault = rekey(['forecast', '--db', db, '--json']);
    withHabits = rekey(['forecast', '--habits', join(EXPORT, 'habits.json'), '--db', db, '--json']);
    whatif = rekey(['whatif', '--set', 'group=Finance,keyExpiryGracePeriod=64800', '--set', 'group=HR,keyValidityPeriod=1051200', '--db', db, '--json']);
  }, 120_000);

  it('import --json reports what it read and wrote', () => {
    expect(imported.status, imported.stderr).toBe(0);
    expect(json<Json>(imported)).toMatchObject({
      observedAt: '2030-05-15T00:00:00.000Z', groups: 4, machines: 15, connections: 9, events: 29, ignoredMachines: [], skipped: [],
      files: [
        { file: JSON_FILES[0], table: 'flowmachinegroups', rows: 4, imported: 4, skipped: 0 },
        { file: JSON_FILES[1], table: 'flowmachines', rows: 15, imported: 15, skipped: 0 },
        { file: JSON_FILES[2], table: 'desktopflowconnections', rows: 9, imported: 9, skipped: 0 },
      ],
    });
    const events = rekey(['events', '--stream', 'import', '--json', '--db', db]);
    expect(JSON.parse(events.stdout.split('\n')[0]!)).toMatchObject({ type: 'StateImported', data: { historyBefore: 'unknown' } });
  });

  it('forecast --json has the documented shape, and the default habits printed with it', () => {
    expect(byDefault.status, byDefault.stderr).toBe(0);
    const forecast = json<Json>(byDefault);
    expectForecastShape(forecast);
    expect(forecast.from).toBe('2030-05-15T00:00:00.000Z');
    expect(forecast.groups.map((g: Json) => [g.name, g.verdict, g.willMiss.map((m: Json) => m.machine)])).toEqual([
      ['Branch-Lyon', 'OK', []],
      ['Finance', 'OK', []],
      ['HR', 'at risk', ['HR-04']],
    ]);
    expect(forecast.skipped).toEqual([{ name: 'Lab', reason: expect.stringMatching(/^its key expired/) }]);
    expect(forecast.habits.find((h: Json) => h.machine === 'HR-04')).toEqual({
      machine: 'HR-04', habit: 'offline', source: 'default: lastheartbeatdate 2030-04-30T00:00:00.000Z is more than 10,080 minutes before the start',
    });
  });

  it('forecast --habits follows the habits file', () => {
    expect(withHabits.status, withHabits.stderr).toBe(0);
    const forecast = json<Json>(withHabits);
    expectForecastShape(forecast);
    const hr = forecast.groups.find((g: Json) => g.name === 'HR');
    expect(hr.willMiss).toEqual([expect.objectContaining({ machine: 'HR-04', reason: expect.stringMatching(/offline until 2031-03-01/) })]);
    expect(forecast.habits.find((h: Json) => h.machine === 'LYO-02')).toMatchObject({ habit: 'office hours (Mon-Fri 08:00-18:00 UTC)', source: 'habits file (LYO-*)' });
  });

  it('whatif --json: {"baseline", "whatif", "differences"}, both forecasts of the same shape', () => {
    expect(whatif.status, whatif.stderr).toBe(0);
    const result = json<Json>(whatif);
    expect(Object.keys(result).slice(0, 3)).toEqual(['baseline', 'whatif', 'differences']);
    expectForecastShape(result.baseline);
    expectForecastShape(result.whatif);
    for (const d of result.differences) expect(Object.keys(d)).toEqual(['group', 'field', 'baseline', 'whatif']);
    const finance = result.differences.filter((d: Json) => d.group === 'Finance').map((d: Json) => d.field);
    expect(finance).toEqual(expect.arrayContaining(['keyExpiryGracePeriod', 'renewalStart']));
    expect(result.differences.find((d: Json) => d.group === 'Finance' && d.field === 'keyExpiryGracePeriod')).toEqual({ group: 'Finance', field: 'keyExpiryGracePeriod', baseline: 129600, whatif: 64800 });
  });

  it('whatif refuses settings the rules refuse, with R1/R2\'s messages', () => {
    expectError(rekey(['whatif', '--set', 'group=Finance,keyExpiryGracePeriod=64799', '--db', db]), 'GRACE_OUT_OF_RANGE', 2,
      /keyExpiryGracePeriod 64799 is below the minimum of 64800 minutes \(45 days\)/);
    expectError(rekey(['whatif', '--set', 'group=HR,keyValidityPeriod=3000000', '--db', db]), 'VALIDITY_OUT_OF_RANGE', 2, /above the maximum of 2628000 minutes/);
    expectError(rekey(['whatif', '--set', 'group=Nowhere,keyValidityPeriod=525600', '--db', db]), 'GROUP_NOT_FOUND', 2);
    expectError(rekey(['whatif', '--set', 'Finance=64800', '--db', db]), 'ARGUMENT_INVALID', 2, /expected group=NAME,SETTING=MINUTES/);
    expectError(rekey(['whatif', '--db', db]), 'ARGUMENT_INVALID', 2);
    const quiet = rekey(['whatif', '--set', 'group=HR,colour=3', '--db', db, '--json']);
    expect(quiet.status).toBe(2);
    expect(quiet.stdout).toBe('');
    expect(JSON.parse(quiet.stderr).error.code).toBe('ARGUMENT_INVALID');
  });

  it('the human outputs name verdicts, misses and habits', () => {
    const text = rekey(['forecast', '--db', db]);
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(/^forecast from 2030-05-15T00:00:00.000Z until /);
    expect(text.stdout).toMatch(/HR: at risk/);
    expect(text.stdout).toMatch(/habits assumed:/);
  });
});

describe('errors of import, forecast and habits on the command line', () => {
  it('import: bad rows are exit 2 with file, index, column and reason; nothing is imported', () => {
    const dir = tempDir();
    const db = join(dir, 'x.db');
    const file = writeJson(dir, 'g.json', { value: [{ flowmachinegroupid: 'g', name: 'A', keycreationdate: 'soon', keyvalidityperiod: 2628000, keyexpirygraceperiod: 259200, primarypublickey: 'AA' }] });
    const result = rekey(['import', file, '--db', db]);
    expectError(result, 'IMPORT_INVALID', 2, /g\.json value\[0\]\.keycreationdate: "soon" is not an instant: ISO-8601 such as 2030-06-01T18:30:00Z/);
    const withJson = rekey(['import', file, '--db', db, '--json']);
    expect(withJson.stdout).toBe('');
    expect(JSON.parse(withJson.stderr).error.code).toBe('IMPORT_INVALID');
  });

  it('forecast: a missing store, an empty one, a bad habits file, a bad --until', () => {
    const dir = tempDir();
    expectError(rekey(['forecast', '--db', join(dir, 'none.db')]), 'STORE_NOT_FOUND', 2);
    const db = join(dir, 'fleet.db');
    expect(rekey(['import', ...JSON_FILES, '--db', db]).status).toBe(0);
    expectError(rekey(['forecast', '--db', db, '--habits', writeJson(dir, 'h.json', '{"X": "rarely"}')]), 'HABITS_INVALID', 2, /"rarely" is not a habit/);
    expectError(rekey(['forecast', '--db', db, '--until', '2020-01-01T00:00:00Z']), 'UNTIL_INVALID', 2, /is not after the head of the log 2030-05-15/);
    expectError(rekey(['forecast', '--db', db, '--until', 'later']), 'ARGUMENT_INVALID', 2);
  });
});

describe('rekey query --csv', () => {
  it('prints the table as CSV with logical column names, which import reads back', () => {
    const dir = tempDir();
    const db = join(dir, 'fleet.db');
    expect(rekey(['import', ...JSON_FILES, '--db', db]).status).toBe(0);
    const csv = rekey(['query', 'flowmachines', '--csv', '--select', 'name,keydeliverystatus', '--top', '2', '--db', db]);
    expect(csv.stdout).toBe('name,keydeliverystatus\r\nFIN-01,1\r\nFIN-02,1\r\n');
  });
});
