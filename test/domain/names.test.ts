/**
 * Names of groups, machines and connections follow one rule at every in-process entry (issue 18):
 * the rule itself, the engine's commands (a real SQLite store, real keys), the scenario loader and
 * `rekey import`. A refusal names the first offending character by code point and position, and no
 * message ever carries a raw control or formatting character: a name with a newline or an escape
 * sequence would otherwise reach `rekey query` output and the terminal reading it.
 * (The HTTP entries are in test/api/names.test.ts and test/remote/identity.test.ts.)
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pooledKeyPairSource } from '../../src/crypto/index.js';
import { isRekeyError, type RekeyError } from '../../src/kernel/errors.js';
import { NAME_PATTERN, NAME_RULE, checkName, describeCharacter, nameProblem, showName } from '../../src/domain/names.js';
import { manualClock, parseInstant } from '../../src/domain/time.js';
import { MachineAgent } from '../../src/engine/agent.js';
import { Engine } from '../../src/engine/engine.js';
import { seededIds } from '../../src/engine/ids.js';
import { createConnection } from '../../src/engine/portal.js';
import { readFleet } from '../../src/fleet/importer.js';
import type { ImportProblem } from '../../src/fleet/exportFiles.js';
import { loadScenario } from '../../src/simulation/loader.js';
import { openSqliteEventStore, type SqliteEventStore } from '../../src/store/sqlite.js';

/** No C0/C1 control, no format character (bidi overrides), no line or paragraph separator. */
const RAW_HOSTILE = /[\p{Cc}\p{Cf}\u2028\u2029]/u;

/** Names a hostile caller would send, with the character and 1-based position the refusal must name. */
const HOSTILE: readonly { name: string; code: string; position: number }[] = [
  { name: 'FIN\n01', code: 'U+000A', position: 4 },
  { name: 'Payroll\r\nInjected: yes', code: 'U+000D', position: 8 },
  { name: 'Red\u001b[31mAlert', code: 'U+001B', position: 4 },
  { name: 'Tab\there', code: 'U+0009', position: 4 },
  { name: 'Pay\u202Ellor', code: 'U+202E', position: 4 },
  { name: 'Next\u0085Line', code: 'U+0085', position: 5 },
  { name: 'Null\u0000', code: 'U+0000', position: 5 },
  { name: 'Line\u2028Sep', code: 'U+2028', position: 5 },
  { name: 'Zero\u200bWidth', code: 'U+200B', position: 5 },
  { name: 'Para\u2029', code: 'U+2029', position: 5 },
  { name: ' Leading', code: 'U+0020', position: 1 },
  { name: 'Trailing\u00a0', code: 'U+00A0', position: 9 },
];

describe('the names rule', () => {
  it('accepts what Dataverse names hold: any script, spaces inside, punctuation, symbols', () => {
    for (const name of ['Finance', 'FIN-01', 'HR (EU)', 'Lab #2 / R&D', 'Ventes Île-de-France', '財務.東京_1', 'No\u00a0Break', '😀 Smile', 'x'.repeat(100), '1']) {
      expect(nameProblem(name), name).toBeNull();
    }
  });

  it('refuses exactly what NAME_PATTERN refuses (the schemas use the pattern, the messages nameProblem)', () => {
    const alphabet = ['a', 'Z', '7', ' ', '-', '(', '\n', '\r', '\t', '\u001b', '\u0085', '\u00a0', '\u200b', '\u202e', '\u2028', '\u2029', '\u3000', '\ufeff', '\u0301', '😀', '\ud800'];
    fc.assert(fc.property(fc.array(fc.constantFrom(...alphabet), { maxLength: 104 }), (characters) => {
      const name = characters.join('');
      expect(nameProblem(name) === null, JSON.stringify(name)).toBe(NAME_PATTERN.test(name));
    }), { numRuns: 2000 });
  });

  it.each(HOSTILE)('refuses $code at position $position, naming it without printing it', ({ name, code, position }) => {
    const problem = nameProblem(name)!;
    expect(problem).toContain(`character ${position} is ${code}`);
    let error: unknown;
    try {
      checkName(name, 'machine name');
    } catch (caught) {
      error = caught;
    }
    expect(isRekeyError(error, 'NAME_INVALID')).toBe(true);
    const message = (error as RekeyError).message;
    expect(message).toContain(`character ${position} is ${code}`);
    expect(message).toContain(`expected ${NAME_RULE}`);
    expect(message).not.toMatch(RAW_HOSTILE);
    expect(JSON.stringify((error as RekeyError).details)).not.toMatch(RAW_HOSTILE);
  });

  it('says what kind of character it is, and how long a name is too long', () => {
    expect(describeCharacter('\n')).toBe('U+000A (a control character)');
    expect(describeCharacter('\u202e')).toBe('U+202E (an invisible formatting character)');
    expect(describeCharacter('\u00a0')).toBe('U+00A0 (white space)');
    expect(describeCharacter('\u2028')).toBe('U+2028 (a line separator)');
    expect(describeCharacter('!')).toBe("U+0021 '!'");
    expect(nameProblem(' lead')).toBe('character 1 is U+0020 (a space), and a name must not start with white space');
    expect(nameProblem('trail ')).toBe('character 6 is U+0020 (a space), and a name must not end with white space');
    expect(nameProblem('')).toBe('it is empty');
    expect(nameProblem('y'.repeat(101))).toBe('it is 101 characters long, more than 100');
    expect(showName('A\u001b[2JB')).toBe('"A\\u{1B}[2JB"');
    expect(showName('q"\\')).toBe('"q\\"\\\\"');
  });
});

describe('the engine refuses such names at every command that brings one, and records nothing', () => {
  let dir: string;
  let store: SqliteEventStore;
  let engine: Engine;
  const keys = pooledKeyPairSource({ size: 2, recycle: true });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rekey-names-'));
    store = openSqliteEventStore({ file: join(dir, 'rekey.db') });
    engine = await Engine.open({ store, clock: manualClock(parseInstant('2026-01-01T00:00:00Z')), ids: seededIds(5) });
    await engine.createGroup({ name: 'Finance' });
    await new MachineAgent({ engine, machineId: 'm-1', name: 'FIN-01', agentVersion: '2.23.116.23040', keys }).join('Finance', 'P4ss-word');
  });
  afterAll(async () => {
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const refusedName = async (command: () => Promise<unknown>, code: string, position: number) => {
    const before = await store.headPosition();
    const error = await command().then(() => null, (caught: unknown) => caught);
    expect(isRekeyError(error, 'NAME_INVALID'), String(error)).toBe(true);
    expect((error as RekeyError).message).toContain(`character ${position} is ${code}`);
    expect((error as RekeyError).message).not.toMatch(RAW_HOSTILE);
    expect(await store.headPosition()).toBe(before);
  };

  it('createGroup and a machine joining', async () => {
    for (const { name, code, position } of HOSTILE) await refusedName(() => engine.createGroup({ name }), code, position);
    await refusedName(() => new MachineAgent({ engine, machineId: 'm-x', name: 'FIN\n02', agentVersion: '2.23.116.23040', keys }).join('Finance', 'P4ss-word'), 'U+000A', 4);
  });

  it('createConnection, on a group whose live key would encrypt it', async () => {
    const credential = { username: 'CONTOSO\\svc', password: 'n0t-logged' };
    for (const { name, code, position } of HOSTILE) {
      await refusedName(() => createConnection(engine, name, { type: 'group', name: 'Finance' }, credential), code, position);
    }
    // The same command with a good name is recorded: the refusal above was the name's.
    expect(await createConnection(engine, 'Invoices', { type: 'group', name: 'Finance' }, credential)).toHaveLength(1);
  });

  it('a lone machine registering its own certificate (R20)', async () => {
    await refusedName(() => new MachineAgent({ engine, machineId: 'm-lone', name: 'Lone\u001b]0;owned\u0007', agentVersion: '2.23.116.23040', keys }).register(), 'U+001B', 5);
  });
});

describe('the scenario loader and rekey import report the offending character', () => {
  it('scenario: a machine name with a newline', () => {
    const scenario = {
      start: '2026-01-01T00:00:00Z', end: '2027-01-01T00:00:00Z',
      groups: [{ name: 'G', password: 'p' }],
      machines: [{ name: 'M\n1', group: 'G', agentVersion: '2.23' }],
      connections: [{ name: 'C\u001b[0m', machine: 'M\n1', createAt: '2026-01-01T00:00:00Z', username: 'u', password: 'p' }],
    };
    let error: unknown;
    try {
      loadScenario(scenario);
    } catch (caught) {
      error = caught;
    }
    expect(isRekeyError(error, 'SCENARIO_INVALID')).toBe(true);
    const problems = (error as RekeyError).details.problems as { path: string; message: string }[];
    expect(problems.find((p) => p.path === 'machines[0].name')?.message).toContain('character 2 is U+000A (a control character)');
    expect(problems.find((p) => p.path === 'connections[0].name')?.message).toContain('character 2 is U+001B (a control character)');
    // The message lists one problem a line; no line holds a raw control character.
    for (const line of (error as RekeyError).message.split('\n')) expect(line).not.toMatch(RAW_HOSTILE);
  });

  it('import: a machine and a connection name with control characters, in JSON and in CSV', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rekey-names-import-'));
    try {
      const groups = join(dir, 'flowmachinegroups.json');
      writeFileSync(groups, JSON.stringify({ '@odata.context': '$metadata#flowmachinegroups', value: [{
        flowmachinegroupid: 'g-1', name: 'Finance', keycreationdate: '2026-01-01T00:00:00Z', keyvalidityperiod: 2628000,
        keyexpirygraceperiod: 259200, primarypublickey: 'AAAA', secondarypublickey: null, statecode: 0, statuscode: 1,
      }] }));
      const machines = join(dir, 'flowmachines.json');
      writeFileSync(machines, JSON.stringify({ '@odata.context': '$metadata#flowmachines', value: [{
        flowmachineid: 'm-1', name: 'FIN-01\n\u001b[2J', agentversion: '2.23.116.23040', _flowmachinegroupid_value: 'g-1',
        keydeliverystatus: 1, keyreceiveddate: '2026-01-01T00:00:00Z', lastheartbeatdate: '2030-05-01T00:00:00Z',
      }] }));
      const groupsCsv = join(dir, 'groups.csv');
      writeFileSync(groupsCsv, 'flowmachinegroupid,name,keycreationdate,keyvalidityperiod,keyexpirygraceperiod,primarypublickey,secondarypublickey,statecode,statuscode\r\n' +
        'g-2,"Sales\u202E",2026-01-01T00:00:00Z,2628000,259200,AAAA,,0,1\r\n');
      let error: unknown;
      try {
        readFleet([groups, machines, groupsCsv]);
      } catch (caught) {
        error = caught;
      }
      expect(isRekeyError(error, 'IMPORT_INVALID'), String(error)).toBe(true);
      const problems = (error as RekeyError).details.problems as ImportProblem[];
      const machine = problems.find((p) => p.file === machines && p.column === 'name');
      expect(machine?.reason).toContain('character 7 is U+000A (a control character)');
      const csvGroup = problems.find((p) => p.file === groupsCsv && p.column === 'name');
      expect(csvGroup?.reason).toContain('character 6 is U+202E (an invisible formatting character)');
      expect(JSON.stringify(problems)).not.toMatch(RAW_HOSTILE);
      for (const line of (error as RekeyError).message.split('\n')) expect(line).not.toMatch(RAW_HOSTILE);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
