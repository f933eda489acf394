/**
 * The scenario loader (docs/scenarios.md): the documented example, defaults, and every kind of file
 * error, each reported with its JSON path and what was expected, all at once.
 */
import { mkdtempSync, readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RekeyError, isRekeyError } from '../../src/kernel/errors.js';
import {
  ACTION_FIELDS,
  DEFAULT_SEED,
  MAX_ITEMS_PER_ARRAY,
  MAX_TEXT_LENGTH,
  NAME_PATTERN_SOURCE,
  RUN_EVERY_MAX_MINUTES,
  RUN_EVERY_MIN_MINUTES,
  SCENARIO_FIELDS,
  SEED_MAX,
  SEED_MIN,
  SETTING_MAX_MINUTES,
  SETTING_MIN_MINUTES,
  type ScenarioProblem,
  loadScenario,
  loadScenarioFile,
  loadScenarioWithWarnings,
} from '../../src/simulation/loader.js';
import {
  DEFAULT_GRACE_MINUTES,
  DEFAULT_VALIDITY_MINUTES,
  MAX_VALIDITY_MINUTES,
  MIN_GRACE_MINUTES,
  MIN_VALIDITY_MINUTES,
} from '../../src/domain/periods.js';

const ROOT = join(import.meta.dirname, '..', '..');

/** The complete example of docs/scenarios.md without FIN-02 and FIN-03, which its actions name. */
const EXAMPLE_WITHOUT_FIN_02_AND_03 = String.raw`{
  "start": "2026-01-01T00:00:00Z",
  "end": "2038-01-01T00:00:00Z",
  "seed": 42,
  "settings": { "pickupDelayMinutes": 1440, "checkInIntervalMinutes": 1440 },
  "groups": [
    { "name": "Finance", "password": "Tr1cky-Passw0rd",
      "keyValidityPeriod": 2628000, "keyExpiryGracePeriod": 259200, "proactiveReencryption": false }
  ],
  "machines": [
    { "name": "FIN-01", "group": "Finance", "agentVersion": "2.23.116.23040",
      "joinAt": "2026-01-01T00:00:00Z",
      "online": [ { "from": "2026-01-01T00:00:00Z", "to": "2038-01-01T00:00:00Z" } ] }
  ],
  "connections": [
    { "name": "Invoices", "group": "Finance", "createAt": "2026-01-02T00:00:00Z",
      "username": "CONTOSO\\svc-invoices", "password": "n0t-in-the-log",
      "runEveryMinutes": 10080, "runAt": [] }
  ],
  "actions": [
    { "at": "2030-06-01T00:00:00Z", "do": "setKeyExpiryGracePeriod", "group": "Finance", "minutes": 64800 },
    { "at": "2030-06-01T00:00:00Z", "do": "setKeyValidityPeriod", "group": "Finance", "minutes": 525600 },
    { "at": "2031-01-10T00:00:00Z", "do": "regeneratePassword", "machine": "FIN-01", "newPassword": "Another-0ne" },
    { "at": "2031-01-11T00:00:00Z", "do": "rejoin", "machine": "FIN-02", "password": "Another-0ne" },
    { "at": "2031-01-12T00:00:00Z", "do": "addMachine", "machine": "FIN-03", "password": "Another-0ne" },
    { "at": "2031-02-01T00:00:00Z", "do": "removeMachine", "machine": "FIN-02" },
    { "at": "2031-02-02T00:00:00Z", "do": "updateAgent", "machine": "FIN-03", "agentVersion": "2.24.0.0" },
    { "at": "2031-02-03T00:00:00Z", "do": "runConnection", "connection": "Invoices" },
    { "at": "2031-02-04T00:00:00Z", "do": "fixConnection", "connection": "Invoices", "password": "n3w-secret" },
    { "at": "2031-03-01T00:00:00Z", "do": "setProactiveReencryption", "group": "Finance", "enabled": true },
    { "at": "2035-01-01T00:00:00Z", "do": "deleteGroup", "group": "Finance" }
  ]
}`;

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The example with the two machines its actions name but its `machines` leaves out. */
function completeExample(): Json {
  const json = JSON.parse(EXAMPLE_WITHOUT_FIN_02_AND_03) as Json;
  json.machines.push(
    { name: 'FIN-02', group: 'Finance', agentVersion: '2.23.116.23040', joinAt: '2026-01-01T00:00:00Z' },
    { name: 'FIN-03', group: 'Finance', agentVersion: '2.22.0.0' },
  );
  return json;
}

const ms = (iso: string) => Date.parse(iso);

function invalid(json: unknown): RekeyError {
  try {
    loadScenario(json);
  } catch (error) {
    expect(isRekeyError(error, 'SCENARIO_INVALID')).toBe(true);
    return error as RekeyError;
  }
  throw new Error('expected SCENARIO_INVALID, but the scenario loaded');
}

function problemsOf(json: unknown): ScenarioProblem[] {
  return invalid(json).details['problems'] as ScenarioProblem[];
}

/** The complete example changed by `edit`, expected to fail with exactly the given problem. */
function onlyProblem(edit: (json: Json) => void): ScenarioProblem {
  const json = completeExample();
  edit(json);
  const problems = problemsOf(json);
  expect(problems, JSON.stringify(problems, null, 1)).toHaveLength(1);
  return problems[0]!;
}

function minimal(): Json {
  return {
    start: '2026-01-01T00:00:00Z',
    end: '2027-01-01T00:00:00Z',
    groups: [{ name: 'G', password: 'p' }],
    machines: [{ name: 'M', group: 'G', agentVersion: '2.23' }],
    connections: [{ name: 'C', machine: 'M', createAt: '2026-01-01T00:00:00Z', username: 'u', password: 'p' }],
  };
}

describe('the complete example scenario', () => {
  it('verbatim, is refused only for the machines FIN-02 and FIN-03 its actions name but it does not declare', () => {
    const problems = problemsOf(JSON.parse(EXAMPLE_WITHOUT_FIN_02_AND_03));
    expect(problems.map((p) => p.path)).toEqual(['actions[3].machine', 'actions[4].machine', 'actions[5].machine', 'actions[6].machine']);
    expect(problems[0]!.message).toBe(
      '"FIN-02" is not a machine of this scenario; expected the name of a machine of this scenario (one of "FIN-01")',
    );
  });

  it('with FIN-02 and FIN-03 declared, loads with every value parsed', () => {
    const scenario = loadScenario(completeExample());
    expect(scenario.start).toBe(ms('2026-01-01T00:00:00Z'));
    expect(scenario.end).toBe(ms('2038-01-01T00:00:00Z'));
    expect(scenario.seed).toBe(42);
    expect(scenario.settings).toEqual({ pickupDelayMinutes: 1440, checkInIntervalMinutes: 1440 });
    expect(scenario.groups).toEqual([
      { name: 'Finance', password: 'Tr1cky-Passw0rd', keyValidityPeriod: 2_628_000, keyExpiryGracePeriod: 259_200, proactiveReencryption: false },
    ]);
    expect(scenario.machines[0]).toEqual({
      name: 'FIN-01',
      group: 'Finance',
      agentVersion: '2.23.116.23040',
      joinAt: ms('2026-01-01T00:00:00Z'),
      online: [{ from: ms('2026-01-01T00:00:00Z'), to: ms('2038-01-01T00:00:00Z') }],
    });
    expect(scenario.machines[2]).toEqual({ name: 'FIN-03', group: 'Finance', agentVersion: '2.22.0.0', joinAt: null, online: [] });
    expect(scenario.connections).toEqual([
      {
        name: 'Invoices',
        target: { type: 'group', name: 'Finance' },
        createAt: ms('2026-01-02T00:00:00Z'),
        username: 'CONTOSO\\svc-invoices',
        password: 'n0t-in-the-log',
        runEveryMinutes: 10_080,
        runAt: [],
      },
    ]);
    expect(scenario.actions.map((a) => [a.index, a.do])).toEqual([
      [0, 'setKeyExpiryGracePeriod'],
      [1, 'setKeyValidityPeriod'],
      [2, 'regeneratePassword'],
      [3, 'rejoin'],
      [4, 'addMachine'],
      [5, 'removeMachine'],
      [6, 'updateAgent'],
      [7, 'runConnection'],
      [8, 'fixConnection'],
      [9, 'setProactiveReencryption'],
      [10, 'deleteGroup'],
    ]);
    expect(scenario.actions[0]).toEqual({ at: ms('2030-06-01T00:00:00Z'), index: 0, do: 'setKeyExpiryGracePeriod', group: 'Finance', minutes: 64_800 });
    expect(scenario.actions[2]).toEqual({ at: ms('2031-01-10T00:00:00Z'), index: 2, do: 'regeneratePassword', machine: 'FIN-01', newPassword: 'Another-0ne' });
    expect(scenario.actions[4]).toEqual({ at: ms('2031-01-12T00:00:00Z'), index: 4, do: 'addMachine', machine: 'FIN-03', password: 'Another-0ne' });
    expect(scenario.actions[6]).toEqual({ at: ms('2031-02-02T00:00:00Z'), index: 6, do: 'updateAgent', machine: 'FIN-03', agentVersion: '2.24.0.0' });
    expect(scenario.actions[7]).toEqual({ at: ms('2031-02-03T00:00:00Z'), index: 7, do: 'runConnection', connection: 'Invoices' });
    expect(scenario.actions[8]).toEqual({ at: ms('2031-02-04T00:00:00Z'), index: 8, do: 'fixConnection', connection: 'Invoices', password: 'n3w-secret' });
    expect(scenario.actions[9]).toEqual({ at: ms('2031-03-01T00:00:00Z'), index: 9, do: 'setProactiveReencryption', group: 'Finance', enabled: true });
    expect(scenario.actions[10]).toEqual({ at: ms('2035-01-01T00:00:00Z'), index: 10, do: 'deleteGroup', group: 'Finance' });
  });
});

describe('defaults (docs/scenarios.md: R1, R2, R4, R21)', () => {
  it('fills seed, settings, periods, proactiveReencryption, online, runs and actions', () => {
    const scenario = loadScenario(minimal());
    expect(scenario.seed).toBe(DEFAULT_SEED);
    expect(DEFAULT_SEED).toBe(1);
    expect(scenario.settings).toEqual({ pickupDelayMinutes: 1440, checkInIntervalMinutes: 1440 });
    expect(scenario.groups[0]).toMatchObject({ keyValidityPeriod: DEFAULT_VALIDITY_MINUTES, keyExpiryGracePeriod: DEFAULT_GRACE_MINUTES, proactiveReencryption: false });
    expect(scenario.machines[0]).toMatchObject({ group: 'G', joinAt: null, online: [] });
    expect(scenario.connections[0]).toMatchObject({ target: { type: 'machine', name: 'M' }, runEveryMinutes: null, runAt: [] });
    expect(scenario.actions).toEqual([]);
  });

  it('fills one setting when only the other is given, and accepts an empty settings object', () => {
    expect(loadScenario({ ...minimal(), settings: { checkInIntervalMinutes: 60 } }).settings).toEqual({ pickupDelayMinutes: 1440, checkInIntervalMinutes: 60 });
    expect(loadScenario({ ...minimal(), settings: {} }).settings).toEqual({ pickupDelayMinutes: 1440, checkInIntervalMinutes: 1440 });
  });

  it('accepts empty groups, machines and connections, and no connections at all', () => {
    const scenario = loadScenario({ start: '2026-01-01T00:00:00Z', end: '2026-01-02T00:00:00Z', groups: [], machines: [], connections: [] });
    expect(scenario.groups).toEqual([]);
    expect(loadScenario({ start: '2026-01-01T00:00:00Z', end: '2026-01-02T00:00:00Z', groups: [], machines: [] }).connections).toEqual([]);
  });

  it('reads an instant without an offset as UTC, and one with an offset in UTC', () => {
    const scenario = loadScenario({ ...minimal(), start: '2026-01-01T00:00:00', end: '2026-06-01T02:00:00+02:00' });
    expect(scenario.start).toBe(ms('2026-01-01T00:00:00Z'));
    expect(scenario.end).toBe(ms('2026-06-01T00:00:00Z'));
  });

  it('sorts online intervals and runAt; adjacent half-open intervals do not overlap', () => {
    const json = minimal();
    json.machines[0].online = [
      { from: '2026-03-01T00:00:00Z', to: '2026-04-01T00:00:00Z' },
      { from: '2026-01-01T00:00:00Z', to: '2026-03-01T00:00:00Z' },
    ];
    json.connections[0].runAt = ['2026-05-01T00:00:00Z', '2026-01-01T00:00:00Z'];
    const scenario = loadScenario(json);
    expect(scenario.machines[0]!.online).toEqual([
      { from: ms('2026-01-01T00:00:00Z'), to: ms('2026-03-01T00:00:00Z') },
      { from: ms('2026-03-01T00:00:00Z'), to: ms('2026-04-01T00:00:00Z') },
    ]);
    expect(scenario.connections[0]!.runAt).toEqual([ms('2026-01-01T00:00:00Z'), ms('2026-05-01T00:00:00Z')]);
  });

  it("lets an online interval's `to` reach end or beyond (still online when the run stops)", () => {
    const json = minimal();
    json.machines[0].online = [{ from: '2026-06-01T00:00:00Z', to: '2099-01-01T00:00:00Z' }];
    expect(loadScenario(json).machines[0]!.online[0]!.to).toBe(ms('2099-01-01T00:00:00Z'));
  });

  it('leaves the R1/R2 range of an action\'s minutes to the engine (a refusal when it runs)', () => {
    const json = minimal();
    json.actions = [{ at: '2026-02-01T00:00:00Z', do: 'setKeyExpiryGracePeriod', group: 'G', minutes: 64_799 }];
    expect(loadScenario(json).actions[0]).toMatchObject({ minutes: 64_799 });
  });
});

describe('the error: one RekeyError SCENARIO_INVALID with every problem', () => {
  it('is a validation error (exit 2, HTTP 400) whose message lists the problems one per line', () => {
    const error = invalid({ ...minimal(), seed: -1, settings: { pickupDelayMinutes: 0 } });
    expect(error.code).toBe('SCENARIO_INVALID');
    expect(error.kind).toBe('validation');
    expect(error.exitCode).toBe(2);
    expect(error.httpStatus).toBe(400);
    expect(error.message).toBe(
      [
        'scenario is invalid (2 problems):',
        'seed: -1 is out of range; expected an integer from 0 to 4294967295 (an unsigned 32-bit seed)',
        'settings.pickupDelayMinutes: 0 is out of range; expected an integer number of minutes from 1 to 525600',
      ].join('\n'),
    );
    expect(error.details['problems']).toEqual([
      { path: 'seed', message: '-1 is out of range; expected an integer from 0 to 4294967295 (an unsigned 32-bit seed)' },
      { path: 'settings.pickupDelayMinutes', message: '0 is out of range; expected an integer number of minutes from 1 to 525600' },
    ]);
  });

  it('collects every problem of the file, and lists the first 20 in the message', () => {
    const json = minimal();
    json.machines = Array.from({ length: 30 }, (_, i) => ({ name: `M${i}`, agentVersion: 'x' }));
    const error = invalid(json);
    const problems = error.details['problems'] as ScenarioProblem[];
    expect(problems).toHaveLength(31); // 30 bad versions, and the connection's machine M is gone
    const lines = error.message.split('\n');
    expect(lines[0]).toBe('scenario is invalid (31 problems):');
    expect(lines).toHaveLength(1 + 20 + 1);
    expect(lines[21]).toBe('... and 11 more');
    for (const line of lines.slice(1, 21)) expect(line).toMatch(/^machines\[\d+\]\.agentVersion: "x" is not a dotted version number; expected /);
  });

  it('reports a problem at the root as $', () => {
    for (const value of [null, [], 'scenario', 42, true, undefined]) {
      expect(problemsOf(value)).toEqual([{ path: '$', message: expect.stringMatching(/; expected a scenario: a JSON object$/) }]);
    }
  });

  it('refuses values that are not plain JSON (class instances, functions)', () => {
    expect(problemsOf(new Date())[0]!.path).toBe('$');
    expect(problemsOf({ ...minimal(), start: () => 1 })[0]!.message).toMatch(/^got a function \(not JSON\)/);
    expect(problemsOf({ ...minimal(), settings: new Map() })[0]!.path).toBe('settings');
  });
});

describe('unknown fields, at any level', () => {
  it.each([
    ['$', (j: Json) => (j.colour = 'red'), 'colour', 'a scenario'],
    ['settings', (j: Json) => (j.settings.pickupDelay = 5), 'settings.pickupDelay', 'the settings'],
    ['a group', (j: Json) => (j.groups[0].members = []), 'groups[0].members', 'a machine group'],
    ['a machine', (j: Json) => (j.machines[0].os = 'win'), 'machines[0].os', 'a machine'],
    ['an interval', (j: Json) => (j.machines[0].online[0].until = 'x'), 'machines[0].online[0].until', 'an online interval'],
    ['a connection', (j: Json) => (j.connections[0].type = 'x'), 'connections[0].type', 'a desktop flow connection'],
    ['an action', (j: Json) => (j.actions[0].index = 0), 'actions[0].index', 'a setKeyExpiryGracePeriod action'],
    ["another action's field", (j: Json) => (j.actions[5].group = 'Finance'), 'actions[5].group', 'a removeMachine action'],
  ])('in %s', (_where, edit, path, what) => {
    const problem = onlyProblem(edit);
    expect(problem.path).toBe(path);
    expect(problem.message).toMatch(new RegExp(`^is not a field of ${what}; expected only `));
  });

  it('reports __proto__, constructor and prototype keys as unknown and never assigns them', () => {
    const text = JSON.stringify(completeExample())
      .replace('{"start"', '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},"start"')
      .replace('"name":"FIN-01"', '"__proto__":{"group":"Other"},"name":"FIN-01"')
      .replace('"from":', '"prototype":1,"from":');
    const problems = problemsOf(JSON.parse(text));
    expect(problems.map((p) => p.path)).toEqual(['__proto__', 'constructor', 'machines[0].__proto__', 'machines[0].online[0].prototype']);
    expect(({} as Json).polluted).toBeUndefined();
    expect((Object.prototype as Json).polluted).toBeUndefined();
  });

  it('does not take inherited fields for the file\'s own', () => {
    const json = completeExample();
    const groups = json.groups as Json[];
    groups[0] = Object.assign(Object.create(null) as Json, { name: 'Finance', password: 'x' });
    expect(loadScenario(json).groups[0]!.keyValidityPeriod).toBe(DEFAULT_VALIDITY_MINUTES);
    // An object whose prototype is not Object.prototype is not plain JSON.
    groups[0] = Object.create({ name: 'Finance', password: 'x' }) as Json;
    expect(problemsOf(json)[0]!.path).toBe('groups[0]');
  });

  it('quotes odd keys and shortens long ones in the path', () => {
    const json = completeExample();
    json['a b'] = 1;
    json['k'.repeat(10_000)] = 1;
    const paths = problemsOf(json).map((p) => p.path);
    expect(paths[0]).toBe('$["a b"]');
    expect(paths[1]).toBe(`$[${JSON.stringify('k'.repeat(40))}... (10000 characters)]`);
  });
});

describe('wrong types', () => {
  it.each([
    ['start', (j: Json) => (j.start = 20260101), 'got the number 20260101; expected an ISO-8601 UTC instant such as 2026-01-01T00:00:00Z'],
    ['groups', (j: Json) => (j.groups = {}), 'got an object; expected the machine groups: a JSON array'],
    ['machines[0]', (j: Json) => (j.machines[0] = 'FIN-01'), 'got the string "FIN-01"; expected a machine: a JSON object'],
    ['settings.checkInIntervalMinutes', (j: Json) => (j.settings.checkInIntervalMinutes = '1440'), 'got the string "1440"; expected an integer number of minutes from 1 to 525600'],
    ['groups[0].proactiveReencryption', (j: Json) => (j.groups[0].proactiveReencryption = 'false'), 'got the string "false"; expected true or false'],
    ['machines[0].agentVersion', (j: Json) => (j.machines[0].agentVersion = 2.23), 'got the number 2.23; expected a dotted version number of up to four parts, such as 2.23.116.23040 (a string)'],
    ['connections[0].runAt', (j: Json) => (j.connections[0].runAt = '2026-01-02T00:00:00Z'), 'got the string "2026-01-02T00:00:00Z"; expected the run instants: a JSON array'],
    ['actions[9].enabled', (j: Json) => (j.actions[9].enabled = 1), 'got the number 1; expected true or false'],
    ['groups[0].name', (j: Json) => (j.groups[0].name = null), expect.stringMatching(/^got null; expected a machine group name: 1 to 100 letters/)],
  ])('%s', (path, edit, message) => {
    const json = completeExample();
    edit(json);
    expect(problemsOf(json)).toContainEqual({ path, message });
  });

  it('reports missing required fields', () => {
    const problems = problemsOf({ groups: [{}], machines: [{}], connections: [{ group: 'x' }], actions: [{}] });
    expect(problems.map((p) => `${p.path}: ${p.message.split(';')[0]}`)).toEqual([
      'start: is missing',
      'end: is missing',
      'groups[0].name: is missing',
      'groups[0].password: is missing',
      'machines[0].name: is missing',
      'machines[0].agentVersion: is missing',
      'connections[0].name: is missing',
      'connections[0].group: "x" is not a machine group of this scenario',
      'connections[0].createAt: is missing',
      'connections[0].username: is missing',
      'connections[0].password: is missing',
      'actions[0].do: is missing',
      'actions[0].at: is missing',
    ]);
  });
});

describe('instants', () => {
  it.each(['2026-02-30T00:00:00Z', 'yesterday', '', '2026-01-01T25:00:00Z', 'x'.repeat(65)])('refuses %j', (text) => {
    const problem = onlyProblem((j) => (j.actions[0].at = text));
    expect(problem.path).toBe('actions[0].at');
    expect(problem.message).toMatch(/ is not an ISO-8601 instant; expected an ISO-8601 UTC instant such as 2026-01-01T00:00:00Z$/);
  });

  it('refuses an end that is not after start, once and without a cascade', () => {
    expect(onlyProblem((j) => (j.end = j.start))).toEqual({
      path: 'end',
      message: '2026-01-01T00:00:00.000Z is not after start 2026-01-01T00:00:00.000Z; expected an instant after start',
    });
    expect(onlyProblem((j) => (j.end = '2025-01-01T00:00:00Z')).path).toBe('end');
  });

  it.each([
    ['machines[1].joinAt', (j: Json) => (j.machines[1].joinAt = '2025-12-31T23:59:00Z')],
    ['connections[0].createAt', (j: Json) => (j.connections[0].createAt = '2038-01-01T00:00:00Z')],
    ['machines[0].online[0].from', (j: Json) => (j.machines[0].online[0].from = '2025-12-31T00:00:00Z')],
    ['actions[10].at', (j: Json) => (j.actions[10].at = '2038-01-01T00:00:00Z')],
    ['connections[0].runAt[0]', (j: Json) => (j.connections[0].runAt = ['2040-01-01T00:00:00Z'])],
  ])('refuses %s outside [start, end)', (path, edit) => {
    const problem = onlyProblem(edit);
    expect(problem.path).toBe(path);
    expect(problem.message).toMatch(/ is outside the scenario \[2026-01-01T00:00:00\.000Z, 2038-01-01T00:00:00\.000Z\); expected .* at or after start and before end \(the simulation stops at end\)$/);
  });

  it('accepts instants at start, and refuses a run before its connection exists', () => {
    expect(() => loadScenario({ ...completeExample(), actions: [{ at: '2026-01-01T00:00:00Z', do: 'runConnection', connection: 'Invoices' }] })).not.toThrow();
    const problem = onlyProblem((j) => (j.connections[0].runAt = ['2026-01-01T12:00:00Z']));
    expect(problem).toEqual({
      path: 'connections[0].runAt[0]',
      message: "2026-01-01T12:00:00.000Z is before the connection's createAt 2026-01-02T00:00:00.000Z; expected a run at or after createAt",
    });
  });

  it('refuses a repeated runAt instant', () => {
    const problem = onlyProblem((j) => (j.connections[0].runAt = ['2026-02-01T00:00:00Z', '2026-02-01T00:00:00.000Z']));
    expect(problem).toEqual({ path: 'connections[0].runAt[1]', message: '2026-02-01T00:00:00.000Z repeats connections[0].runAt[0]; expected distinct run instants' });
  });
});

describe('online intervals (R21)', () => {
  it('refuses to <= from', () => {
    const problem = onlyProblem((j) => (j.machines[0].online[0].to = j.machines[0].online[0].from));
    expect(problem.path).toBe('machines[0].online[0].to');
    expect(problem.message).toBe('2026-01-01T00:00:00.000Z is not after from 2026-01-01T00:00:00.000Z; expected an instant after `from` (intervals are [from, to))');
  });

  it('refuses overlapping intervals, naming both', () => {
    const problem = onlyProblem((j) => (j.machines[0].online = [
      { from: '2027-01-01T00:00:00Z', to: '2027-03-01T00:00:00Z' },
      { from: '2026-01-01T00:00:00Z', to: '2027-01-02T00:00:00Z' },
    ]));
    expect(problem).toEqual({
      path: 'machines[0].online[0]',
      message: '[2027-01-01T00:00:00.000Z, 2027-03-01T00:00:00.000Z) overlaps online[1] [2026-01-01T00:00:00.000Z, 2027-01-02T00:00:00.000Z); expected online intervals that do not overlap (a next interval may start where one ends)',
    });
  });
});

describe('references and names', () => {
  it.each([
    ["a machine's group", 'machines[0].group', (j: Json) => (j.machines[0].group = 'Finanse'), '"Finanse" is not a machine group of this scenario; expected the name of a machine group of this scenario (one of "Finance")'],
    ["a connection's group", 'connections[0].group', (j: Json) => (j.connections[0].group = 'HR'), '"HR" is not a machine group of this scenario; expected the name of a machine group of this scenario (one of "Finance")'],
    ["a connection's machine", 'connections[0].machine', (j: Json) => { delete j.connections[0].group; j.connections[0].machine = 'FIN-09'; }, '"FIN-09" is not a machine of this scenario; expected the name of a machine of this scenario (one of "FIN-01", "FIN-02", "FIN-03")'],
    ["an action's group", 'actions[10].group', (j: Json) => (j.actions[10].group = 'HR'), '"HR" is not a machine group of this scenario; expected the name of a machine group of this scenario (one of "Finance")'],
    ["an action's machine", 'actions[6].machine', (j: Json) => (j.actions[6].machine = 'FIN-04'), '"FIN-04" is not a machine of this scenario; expected the name of a machine of this scenario (one of "FIN-01", "FIN-02", "FIN-03")'],
    ["an action's connection", 'actions[7].connection', (j: Json) => (j.actions[7].connection = 'Payroll'), '"Payroll" is not a connection of this scenario; expected the name of a connection of this scenario (one of "Invoices")'],
  ])('refuses an unknown name in %s', (_what, path, edit, message) => {
    expect(onlyProblem(edit)).toEqual({ path, message });
  });

  it('refuses duplicate names per kind, pointing at the first', () => {
    expect(onlyProblem((j) => j.groups.push({ name: 'Finance', password: 'x' }))).toEqual({
      path: 'groups[1].name',
      message: '"Finance" is already the name of groups[0]; expected a unique machine group name',
    });
    expect(onlyProblem((j) => j.machines.push({ name: 'FIN-01', agentVersion: '2.23' })).path).toBe('machines[3].name');
    expect(onlyProblem((j) => j.connections.push({ ...j.connections[0] })).message).toMatch(/^"Invoices" is already the name of connections\[0\]; expected a unique connection name$/);
  });

  it('allows the same name for things of different kinds', () => {
    const json = completeExample();
    json.machines.push({ name: 'Finance', agentVersion: '2.23' });
    expect(() => loadScenario(json)).not.toThrow();
  });

  it.each(['-leading-dash', ' space', 'x'.repeat(101), 'a/b', ''])('refuses the name %j', (name) => {
    const problem = onlyProblem((j) => j.machines.push({ name, agentVersion: '2.23' }));
    expect(problem.path).toBe('machines[3].name');
    expect(problem.message).toMatch(/ is not a valid machine name; expected 1 to 100 letters, digits, spaces, '\.', '_' or '-', starting with a letter or digit$/);
  });

  it('accepts unicode letters in names', () => {
    const json = minimal();
    json.groups[0].name = 'Finanzen Zürich_1.ä';
    json.machines[0].group = 'Finanzen Zürich_1.ä';
    expect(loadScenario(json).groups[0]!.name).toBe('Finanzen Zürich_1.ä');
  });

  it('does not repeat a bad name as unknown references to it', () => {
    const json = completeExample();
    json.groups[0].name = 'Finance!';
    for (const machine of json.machines) machine.group = 'Finance!';
    json.connections[0].group = 'Finance!';
    for (const action of json.actions) if (action.group) action.group = 'Finance!';
    expect(problemsOf(json).map((p) => p.path)).toEqual(['groups[0].name']);
  });

  it('refuses a connection with both or neither of group and machine', () => {
    expect(onlyProblem((j) => (j.connections[0].machine = 'FIN-01'))).toEqual({
      path: 'connections[0]',
      message: 'has both `group` and `machine`; expected exactly one target: `group` or `machine`',
    });
    expect(onlyProblem((j) => delete j.connections[0].group)).toEqual({
      path: 'connections[0]',
      message: 'has neither `group` nor `machine`; expected exactly one target: `group` or `machine`',
    });
  });

  it('refuses joinAt on a machine without a group', () => {
    expect(onlyProblem((j) => j.machines.push({ name: 'FIN-04', agentVersion: '2.23', joinAt: '2026-01-01T00:00:00Z' }))).toEqual({
      path: 'machines[3].joinAt',
      message: 'is set but the machine has no group to join; expected a `group` beside `joinAt`, or no `joinAt`',
    });
  });

  it('refuses actions that act through the group of a machine that has none', () => {
    const json = completeExample();
    delete json.machines[2].group;
    expect(problemsOf(json)).toEqual([
      { path: 'actions[4].machine', message: 'machine "FIN-03" has no group, so addMachine has nothing to act on; expected a machine declared with a `group`' },
    ]);
    // updateAgent (actions[6]) works on any machine.
  });
});

describe('numbers and ranges', () => {
  it.each([
    ['groups[0].keyValidityPeriod', 129_599, 'keyValidityPeriod 129599 is below the minimum of 129600 minutes (three months); expected an integer from 129600 to 2628000 (R1)'],
    ['groups[0].keyValidityPeriod', 2_628_001, 'keyValidityPeriod 2628001 is above the maximum of 2628000 minutes (five years); expected an integer from 129600 to 2628000 (R1)'],
    ['groups[0].keyExpiryGracePeriod', 64_799, 'keyExpiryGracePeriod 64799 is below the minimum of 64800 minutes (45 days); expected an integer from 64800 to 1314000, half of keyValidityPeriod (R2)'],
    ['groups[0].keyExpiryGracePeriod', 1_314_001, 'keyExpiryGracePeriod 1314001 is above the maximum of 1314000 minutes (half of keyValidityPeriod 2628000); expected an integer from 64800 to 1314000, half of keyValidityPeriod (R2)'],
    ['groups[0].keyValidityPeriod', 525_600.5, '525600.5 is not a whole number; expected an integer number of minutes'],
    ['actions[0].minutes', 64_800.5, '64800.5 is not a whole number; expected an integer number of minutes'],
    ['actions[1].minutes', 2 ** 53, '9007199254740992 is beyond the safe integer range; expected an integer number of minutes'],
    ['actions[1].minutes', 1e300, '1e+300 is beyond the safe integer range; expected an integer number of minutes'],
    ['settings.pickupDelayMinutes', 525_601, '525601 is out of range; expected an integer number of minutes from 1 to 525600'],
    ['settings.checkInIntervalMinutes', -1440, '-1440 is out of range; expected an integer number of minutes from 1 to 525600'],
    ['connections[0].runEveryMinutes', 0, '0 is out of range; expected an integer number of minutes from 1 to 5256000'],
    ['connections[0].runEveryMinutes', -10_080, '-10080 is out of range; expected an integer number of minutes from 1 to 5256000'],
    ['seed', 2 ** 32, '4294967296 is out of range; expected an integer from 0 to 4294967295 (an unsigned 32-bit seed)'],
    ['seed', 1.5, '1.5 is not a whole number; expected an integer from 0 to 4294967295 (an unsigned 32-bit seed)'],
  ])('%s = %s', (path, value, message) => {
    const json = completeExample();
    const keys = path.replace(/\[(\d+)\]/g, '.$1').split('.');
    let target: Json = json;
    for (const key of keys.slice(0, -1)) target = target[key];
    target[keys[keys.length - 1]!] = value;
    expect(problemsOf(json)).toEqual([{ path, message }]);
  });

  it('checks the grace against the group\'s own validity, including the default grace', () => {
    const json = minimal();
    json.groups[0].keyValidityPeriod = 259_200;
    json.groups[0].keyExpiryGracePeriod = 129_601;
    expect(problemsOf(json)[0]!.message).toContain('above the maximum of 129600 minutes (half of keyValidityPeriod 259200)');
    delete json.groups[0].keyExpiryGracePeriod;
    expect(problemsOf(json)).toEqual([{
      path: 'groups[0].keyExpiryGracePeriod',
      message: 'is missing, and its default 259200 is above half of keyValidityPeriod 259200; expected keyExpiryGracePeriod from 64800 to 129600 (R2)',
    }]);
    json.groups[0].keyExpiryGracePeriod = 129_600;
    expect(loadScenario(json).groups[0]).toMatchObject({ keyValidityPeriod: 259_200, keyExpiryGracePeriod: 129_600 });
  });

  it('accepts the seed bounds 0 and 4294967295', () => {
    expect(loadScenario({ ...minimal(), seed: 0 }).seed).toBe(0);
    expect(loadScenario({ ...minimal(), seed: 4_294_967_295 }).seed).toBe(4_294_967_295);
  });
});

describe('agent versions (R8)', () => {
  it.each(['2.x', '1.2.3.4.5', '2.23.', 'v2.23', '', '1234567890.1'])('refuses %j', (version) => {
    const problem = onlyProblem((j) => (j.actions[6].agentVersion = version));
    expect(problem.path).toBe('actions[6].agentVersion');
    expect(problem.message).toMatch(/ is not a dotted version number; expected a dotted version number of up to four parts, such as 2\.23\.116\.23040$/);
  });
});

describe('actions', () => {
  it('refuses an unknown or missing `do`, listing the actions', () => {
    expect(onlyProblem((j) => (j.actions[7].do = 'runFlow'))).toEqual({
      path: 'actions[7].do',
      message: `"runFlow" is not an action; expected one of ${Object.keys(ACTION_FIELDS).join(', ')}`,
    });
    expect(onlyProblem((j) => delete j.actions[7].do).path).toBe('actions[7].do');
  });

  it('refuses a missing action field', () => {
    expect(onlyProblem((j) => delete j.actions[8].password)).toEqual({
      path: 'actions[8].password',
      message: 'is missing; expected the new connection password: a string of 1 to 10000 characters',
    });
  });
});

describe('long strings', () => {
  it('refuses a 10 MB password fast, with a short message', () => {
    const json = completeExample();
    json.groups[0].password = 'x'.repeat(10 * 1024 * 1024);
    json.actions[3].password = 'y'.repeat(10 * 1024 * 1024);
    const began = performance.now();
    const error = invalid(json);
    expect(performance.now() - began).toBeLessThan(100);
    expect(error.details['problems']).toEqual([
      { path: 'groups[0].password', message: `is 10485760 characters long; expected the group password of at most ${MAX_TEXT_LENGTH} characters` },
      { path: 'actions[3].password', message: `is 10485760 characters long; expected the password to type of at most ${MAX_TEXT_LENGTH} characters` },
    ]);
    expect(error.message.length).toBeLessThan(1000);
  });

  it('refuses 10 MB names, instants and versions fast, quoting only their start', () => {
    const big = 'A'.repeat(10 * 1024 * 1024);
    const json = completeExample();
    json.groups[0].name = big;
    json.start = big;
    json.machines[0].agentVersion = big;
    json.connections[0].username = big;
    const began = performance.now();
    const error = invalid(json);
    expect(performance.now() - began).toBeLessThan(200);
    expect(error.message.length).toBeLessThan(3000);
    expect(error.message).toContain('... (10485760 characters)');
  });

  it('accepts a password of exactly 10,000 characters and refuses an empty one', () => {
    const json = minimal();
    json.groups[0].password = 'p'.repeat(MAX_TEXT_LENGTH);
    expect(loadScenario(json).groups[0]!.password).toHaveLength(MAX_TEXT_LENGTH);
    json.groups[0].password = '';
    expect(problemsOf(json)).toEqual([{ path: 'groups[0].password', message: 'is empty; expected the group password: a string of 1 to 10000 characters' }]);
  });

  it(`refuses arrays of more than ${MAX_ITEMS_PER_ARRAY} items`, () => {
    const json = minimal();
    json.connections[0].runAt = new Array(MAX_ITEMS_PER_ARRAY + 1).fill('2026-02-01T00:00:00Z');
    expect(problemsOf(json)).toEqual([{ path: 'connections[0].runAt', message: `has ${MAX_ITEMS_PER_ARRAY + 1} items; expected at most ${MAX_ITEMS_PER_ARRAY}` }]);
  });
});

describe('warnings', () => {
  it('R9: warns when more than 50 machines join one group through joinAt', () => {
    const json = minimal();
    json.machines = Array.from({ length: 52 }, (_, i) => ({ name: `M${i}`, group: 'G', agentVersion: '2.23', joinAt: '2026-01-01T00:00:00Z' }));
    json.connections = [];
    const { warnings } = loadScenarioWithWarnings(json);
    expect(warnings).toEqual([{
      path: 'machines[50].joinAt',
      message: 'is join 51 of 52 into machine group "G" through joinAt; expected at most 50 members (R9): later joins are refused unless machines are removed first',
    }]);
    json.machines.length = 50;
    expect(loadScenarioWithWarnings(json).warnings).toEqual([]);
  });
});

describe('loadScenarioFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rekey-loader-'));
  const write = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  it('loads a file, with or without a byte order mark', () => {
    expect(loadScenarioFile(write('ok.json', JSON.stringify(completeExample()))).seed).toBe(42);
    expect(loadScenarioFile(write('bom.json', `\uFEFF${JSON.stringify(minimal())}`)).seed).toBe(1);
  });

  it('reports a JSON syntax error with the file, line and column', () => {
    const path = write('trailing-comma.json', '{\n  "start": "2026-01-01T00:00:00Z",\n  "end": 1,\n}\n');
    try {
      loadScenarioFile(path);
      throw new Error('expected SCENARIO_INVALID');
    } catch (error) {
      expect(isRekeyError(error, 'SCENARIO_INVALID')).toBe(true);
      const rekey = error as RekeyError;
      expect(rekey.exitCode).toBe(2);
      expect(rekey.details).toMatchObject({ file: path, line: 4, column: 1 });
      expect(rekey.message.split('\n')[0]).toBe(`scenario file ${path} is invalid (1 problem):`);
      expect(rekey.message.split('\n')[1]).toMatch(/^\$: is not valid JSON at line 4, column 1 \(.*\); expected a JSON scenario file/);
    }
  });

  it.each([
    ['{"start": }', 1, 11],
    ['{\n "a": tru }', 2, 10],
    ['', 1, 1],
    ['{"a": "x\ny"}', 1, 9],
    ['{"a": 1} x', 1, 10],
    ['[[[[[[', 1, 7],
  ])('places the syntax error in %j at line %i, column %i', (text, line, column) => {
    const path = write('bad.json', text);
    try {
      loadScenarioFile(path);
      throw new Error('expected SCENARIO_INVALID');
    } catch (error) {
      expect((error as RekeyError).details).toMatchObject({ line, column });
    }
  });

  it('reports a missing file as SCENARIO_INVALID naming it', () => {
    const path = join(dir, 'missing.json');
    try {
      loadScenarioFile(path);
      throw new Error('expected SCENARIO_INVALID');
    } catch (error) {
      expect(isRekeyError(error, 'SCENARIO_INVALID')).toBe(true);
      expect((error as RekeyError).message).toContain(`scenario file ${path} is invalid`);
      expect((error as RekeyError).message).toContain('cannot read the file');
    }
  });

  it('names the file in the message of a content problem', () => {
    const path = write('bad-seed.json', JSON.stringify({ ...minimal(), seed: 'x' }));
    expect(() => loadScenarioFile(path)).toThrow(`scenario file ${path} is invalid (1 problem):\nseed: got the string "x"`);
  });
});

describe('examples/*.json', () => {
  const dir = join(ROOT, 'examples');
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')).sort() : [];
  if (files.length === 0) {
    it.skip('NOTE: there are no examples/*.json files yet, so none were validated', () => {});
  } else {
    it.each(files)('examples/%s loads', (file) => {
      const { warnings } = loadScenarioWithWarnings(JSON.parse(readFileSync(join(dir, file), 'utf8')), file);
      expect(warnings).toEqual([]);
    });
  }
});

describe('docs/scenario-schema.json matches the loader', () => {
  const schema = JSON.parse(readFileSync(join(ROOT, 'docs', 'scenario-schema.json'), 'utf8')) as Json;
  const defs = schema.$defs as Json;

  /** Follows a local `$ref` ("#/$defs/x"). */
  const resolve = (node: Json): Json => (typeof node.$ref === 'string' ? resolve(defs[node.$ref.replace('#/$defs/', '')]) : node);

  /** Every object schema reachable from the root, by where it sits (walks properties, items, oneOf, $ref). */
  function objectSchemas(): Map<string, Json> {
    const found = new Map<string, Json>();
    const walk = (node: Json, where: string) => {
      const target = resolve(node);
      if (target.type === 'object' && target.properties) {
        if (found.has(where)) return;
        found.set(where, target);
        for (const [key, child] of Object.entries(target.properties as Json)) walk(child as Json, `${where}.${key}`);
      }
      if (target.items) walk(target.items as Json, `${where}[]`);
      for (const [i, variant] of ((target.oneOf ?? []) as Json[]).entries()) if (variant.properties) walk(variant, `${where}|${i}`);
    };
    walk(schema, '$');
    return found;
  }

  const fieldsOf = (table: Record<string, string>) => ({
    properties: Object.keys(table).sort(),
    required: Object.keys(table).filter((k) => table[k] === 'required').sort(),
  });
  const schemaFieldsOf = (node: Json) => ({
    properties: Object.keys(node.properties as Json).sort(),
    required: [...((node.required ?? []) as string[])].sort(),
  });

  it('is a draft 2020-12 schema that allows no other properties anywhere', () => {
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    for (const [where, node] of objectSchemas()) expect(node.additionalProperties, where).toBe(false);
  });

  it('has the same objects, properties and required fields as the loader', () => {
    const found = objectSchemas();
    const expected: Record<string, Record<string, string>> = {
      $: SCENARIO_FIELDS.scenario,
      '$.settings': SCENARIO_FIELDS.settings,
      '$.groups[]': SCENARIO_FIELDS.group,
      '$.machines[]': SCENARIO_FIELDS.machine,
      '$.machines[].online[]': SCENARIO_FIELDS.interval,
      '$.connections[]': SCENARIO_FIELDS.connection,
    };
    for (const [type, fields] of Object.entries(ACTION_FIELDS)) {
      const table: Record<string, string> = { at: 'required', do: 'required' };
      for (const key of fields) table[key] = 'required';
      expected[`$.actions[]|${Object.keys(ACTION_FIELDS).indexOf(type)}`] = table;
    }
    expect([...found.keys()].sort()).toEqual(Object.keys(expected).sort());
    for (const [where, table] of Object.entries(expected)) expect(schemaFieldsOf(found.get(where)!), where).toEqual(fieldsOf(table));
    const actions = resolve(resolve(schema.properties.actions).items).oneOf as Json[];
    expect(actions.map((a) => a.properties.do.const)).toEqual(Object.keys(ACTION_FIELDS));
  });

  it('states the loader\'s rules: one target per connection, joinAt needs group', () => {
    const found = objectSchemas();
    expect(found.get('$.connections[]')!.oneOf).toEqual([{ required: ['group'] }, { required: ['machine'] }]);
    expect(found.get('$.machines[]')!.dependentRequired).toEqual({ joinAt: ['group'] });
  });

  it('has the loader\'s bounds and defaults', () => {
    const found = objectSchemas();
    const range = (node: Json) => [resolve(node).minimum, resolve(node).maximum];
    expect(range(schema.properties.seed)).toEqual([SEED_MIN, SEED_MAX]);
    expect(schema.properties.seed.default).toBe(DEFAULT_SEED);
    for (const key of ['pickupDelayMinutes', 'checkInIntervalMinutes']) {
      expect(range(found.get('$.settings')!.properties[key])).toEqual([SETTING_MIN_MINUTES, SETTING_MAX_MINUTES]);
      expect(found.get('$.settings')!.properties[key].default).toBe(1440);
    }
    const group = found.get('$.groups[]')!.properties;
    expect(range(group.keyValidityPeriod)).toEqual([MIN_VALIDITY_MINUTES, MAX_VALIDITY_MINUTES]);
    expect(range(group.keyExpiryGracePeriod)).toEqual([MIN_GRACE_MINUTES, Math.floor(MAX_VALIDITY_MINUTES / 2)]);
    expect([group.keyValidityPeriod.default, group.keyExpiryGracePeriod.default]).toEqual([DEFAULT_VALIDITY_MINUTES, DEFAULT_GRACE_MINUTES]);
    expect(range(found.get('$.connections[]')!.properties.runEveryMinutes)).toEqual([RUN_EVERY_MIN_MINUTES, RUN_EVERY_MAX_MINUTES]);
    expect(defs.text.maxLength).toBe(MAX_TEXT_LENGTH);
    expect(defs.name.pattern).toBe(NAME_PATTERN_SOURCE);
    for (const key of ['groups', 'machines', 'connections', 'actions']) expect(schema.properties[key].maxItems).toBe(MAX_ITEMS_PER_ARRAY);
  });
});
