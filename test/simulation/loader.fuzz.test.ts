/**
 * The scenario loader never fails in any other way than SCENARIO_INVALID, and never slowly: random JSON
 * values, and random mutations of a valid scenario (fields dropped, replaced or added, with huge
 * numbers, NaN-like strings, negative minutes, invalid dates, unicode, `__proto__` keys, 10 MB strings).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isRekeyError, type RekeyError } from '../../src/kernel/errors.js';
import { type ScenarioProblem, loadScenarioWithWarnings } from '../../src/simulation/loader.js';
import { parseJsonText, scanForError } from '../../src/simulation/loader/jsonText.js';
import type { Scenario } from '../../src/simulation/scenario.js';

/** Per call; the loader takes well under a millisecond on a scenario of this size. */
const BUDGET_MS = 100;

/** The complete example of docs/scenarios.md, with the machines FIN-02 and FIN-03 its actions name declared. */
const VALID = {
  start: '2026-01-01T00:00:00Z',
  end: '2038-01-01T00:00:00Z',
  seed: 42,
  settings: { pickupDelayMinutes: 1440, checkInIntervalMinutes: 1440 },
  groups: [
    { name: 'Finance', password: 'Tr1cky-Passw0rd', keyValidityPeriod: 2628000, keyExpiryGracePeriod: 259200, proactiveReencryption: false },
  ],
  machines: [
    {
      name: 'FIN-01',
      group: 'Finance',
      agentVersion: '2.23.116.23040',
      joinAt: '2026-01-01T00:00:00Z',
      online: [
        { from: '2026-01-01T00:00:00Z', to: '2030-01-01T00:00:00Z' },
        { from: '2030-02-01T00:00:00Z', to: '2038-01-01T00:00:00Z' },
      ],
    },
    { name: 'FIN-02', group: 'Finance', agentVersion: '2.23.116.23040', joinAt: '2026-01-01T00:00:00Z' },
    { name: 'FIN-03', group: 'Finance', agentVersion: '2.22.0.0' },
  ],
  connections: [
    { name: 'Invoices', group: 'Finance', createAt: '2026-01-02T00:00:00Z', username: 'CONTOSO\\svc-invoices', password: 'n0t-in-the-log', runEveryMinutes: 10080, runAt: ['2027-01-01T00:00:00Z'] },
    { name: 'Payroll', machine: 'FIN-01', createAt: '2026-01-02T00:00:00Z', username: 'svc', password: 'p' },
  ],
  actions: [
    { at: '2030-06-01T00:00:00Z', do: 'setKeyExpiryGracePeriod', group: 'Finance', minutes: 64800 },
    { at: '2030-06-01T00:00:00Z', do: 'setKeyValidityPeriod', group: 'Finance', minutes: 525600 },
    { at: '2031-01-10T00:00:00Z', do: 'regeneratePassword', machine: 'FIN-01', newPassword: 'Another-0ne' },
    { at: '2031-01-11T00:00:00Z', do: 'rejoin', machine: 'FIN-02', password: 'Another-0ne' },
    { at: '2031-01-12T00:00:00Z', do: 'addMachine', machine: 'FIN-03', password: 'Another-0ne' },
    { at: '2031-02-01T00:00:00Z', do: 'removeMachine', machine: 'FIN-02' },
    { at: '2031-02-02T00:00:00Z', do: 'updateAgent', machine: 'FIN-03', agentVersion: '2.24.0.0' },
    { at: '2031-02-03T00:00:00Z', do: 'runConnection', connection: 'Invoices' },
    { at: '2031-02-04T00:00:00Z', do: 'fixConnection', connection: 'Invoices', password: 'n3w-secret' },
    { at: '2031-03-01T00:00:00Z', do: 'setProactiveReencryption', group: 'Finance', enabled: true },
    { at: '2035-01-01T00:00:00Z', do: 'deleteGroup', group: 'Finance' },
  ],
};

const TEN_MB = 'x'.repeat(10 * 1024 * 1024);

/** Values aimed at the loader's boundaries, and plain random JSON. */
const nastyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(1e308, -1e308, 2 ** 53, 2 ** 53 + 2, Number.MAX_SAFE_INTEGER, -0, 0, -1, -1440, 0.5, 2 ** 32, 1e21, 129_599, 64_799, 525_601),
  fc.integer({ min: -1e9, max: 0 }),
  fc.integer(),
  fc.constantFrom('NaN', 'Infinity', '-Infinity', '1e999', '0x10', '', ' ', 'null', 'undefined', 'true', '1440'),
  fc.constantFrom(
    '2026-13-01T00:00:00Z', '2026-02-30T00:00:00Z', '2026-01-01T25:00:00Z', '0000-00-00', '2026-01-01T00:00:00+99:00',
    '+275760-09-13T00:00:00Z', '-271821-04-20T00:00:00Z', '2038-01-01T00:00:00Z', '2025-12-31T23:59:59.999Z', '2026', '2026-W01-1',
    '2030-01-15T00:00:00Z',
  ),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.string({ unit: 'grapheme', maxLength: 30 }),
  fc.constantFrom('Finance', 'FIN-01', 'FIN-02', 'FIN-03', 'Invoices', 'Payroll', '2.23', '2.22.0.0', 'setKeyValidityPeriod', 'addMachine', 'deleteGroup'),
  fc.constant(TEN_MB),
  fc.constant(Symbol.for('not-json')),
);

const nastyKey = fc.oneof(
  fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__'),
  fc.constantFrom('name', 'group', 'machine', 'joinAt', 'from', 'to', 'do', 'at', 'index', 'minutes', 'online', 'runAt', 'seed', 'settings'),
  fc.string({ unit: 'grapheme', maxLength: 10 }),
);

type Mutation = { readonly op: 'delete' | 'replace' | 'insert'; readonly target: number; readonly pick: number; readonly key: string; readonly value: unknown };

const mutation: fc.Arbitrary<Mutation> = fc.record({
  op: fc.constantFrom('delete', 'replace', 'insert'),
  target: fc.nat(),
  pick: fc.nat(),
  key: nastyKey,
  value: nastyValue,
});

/** Every object and array of a JSON tree. */
function containers(node: unknown, found: (Record<string, unknown> | unknown[])[] = []): (Record<string, unknown> | unknown[])[] {
  if (typeof node === 'object' && node !== null) {
    found.push(node as Record<string, unknown>);
    for (const child of Object.values(node)) containers(child, found);
  }
  return found;
}

/** Applies mutations to a fresh copy of VALID; own properties only (`__proto__` included). */
function mutate(mutations: readonly Mutation[]): unknown {
  const root = structuredClone(VALID) as unknown;
  for (const { op, target, pick, key, value } of mutations) {
    const all = containers(root);
    const node = all[target % all.length]!;
    if (Array.isArray(node)) {
      if (op === 'insert' || node.length === 0) node.splice(pick % (node.length + 1), 0, value);
      else if (op === 'delete') node.splice(pick % node.length, 1);
      else node[pick % node.length] = value;
      continue;
    }
    const keys = Object.keys(node);
    const chosen = op === 'insert' || keys.length === 0 ? key : keys[pick % keys.length]!;
    if (op === 'delete' && keys.length > 0) delete node[chosen];
    else Object.defineProperty(node, chosen, { value, enumerable: true, writable: true, configurable: true });
  }
  return root;
}

/** Loads `json`; a failure must be SCENARIO_INVALID with well-formed problems, and every call fast. */
function check(json: unknown): { scenario?: Scenario; problems?: ScenarioProblem[]; ms: number } {
  const began = performance.now();
  try {
    const { scenario } = loadScenarioWithWarnings(json);
    return { scenario, ms: performance.now() - began };
  } catch (error) {
    const ms = performance.now() - began;
    if (!isRekeyError(error, 'SCENARIO_INVALID')) throw error;
    const rekey = error as RekeyError;
    expect(rekey.kind).toBe('validation');
    const problems = rekey.details['problems'] as ScenarioProblem[];
    expect(problems.length).toBeGreaterThan(0);
    for (const problem of problems) {
      expect(typeof problem.path).toBe('string');
      expect(problem.path.length).toBeGreaterThan(0);
      expect(problem.message).toContain('; expected ');
    }
    const lines = rekey.message.split('\n');
    expect(lines.length).toBeLessThanOrEqual(22);
    for (const line of lines) expect(line.length).toBeLessThan(2_000);
    return { problems, ms };
  }
}

/** What a loaded scenario promises (scenario.ts). */
function expectWellFormed(scenario: Scenario): void {
  expect(scenario.end).toBeGreaterThan(scenario.start);
  expect(scenario.actions.map((a) => a.index)).toEqual(scenario.actions.map((_, i) => i));
  const groups = new Set(scenario.groups.map((g) => g.name));
  const machines = new Set(scenario.machines.map((m) => m.name));
  for (const machine of scenario.machines) {
    if (machine.group !== null) expect(groups.has(machine.group)).toBe(true);
    machine.online.forEach((interval, i) => {
      expect(interval.to).toBeGreaterThan(interval.from);
      if (i > 0) expect(interval.from).toBeGreaterThanOrEqual(machine.online[i - 1]!.to);
    });
  }
  for (const connection of scenario.connections) {
    expect((connection.target.type === 'group' ? groups : machines).has(connection.target.name)).toBe(true);
  }
}

describe('loader fuzz', () => {
  it('random JSON values: a scenario or SCENARIO_INVALID, fast', () => {
    let slowest = 0;
    fc.assert(
      fc.property(fc.jsonValue(), (json) => {
        slowest = Math.max(slowest, check(json).ms);
      }),
      { numRuns: 400 },
    );
    expect(slowest).toBeLessThan(BUDGET_MS);
  });

  it('random objects with scenario-like keys at the top: SCENARIO_INVALID, fast', () => {
    let slowest = 0;
    fc.assert(
      fc.property(fc.dictionary(nastyKey, nastyValue, { maxKeys: 10 }), (json) => {
        slowest = Math.max(slowest, check(json).ms);
      }),
      { numRuns: 400 },
    );
    expect(slowest).toBeLessThan(BUDGET_MS);
  });

  it('the unmutated base loads', () => {
    expectWellFormed(check(structuredClone(VALID)).scenario!);
  });

  it('mutations of a valid scenario: a well-formed scenario or SCENARIO_INVALID, fast, and nothing polluted', () => {
    let slowest = 0;
    let loaded = 0;
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (mutations) => {
        const result = check(mutate(mutations));
        slowest = Math.max(slowest, result.ms);
        if (result.scenario) {
          loaded++;
          expectWellFormed(result.scenario);
        }
      }),
      { numRuns: 1500 },
    );
    expect(slowest).toBeLessThan(BUDGET_MS);
    expect(loaded).toBeGreaterThan(0); // some mutations are harmless: the property saw both outcomes
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(Object.keys(Object.prototype)).toEqual([]);
  });

  it('a single replaced leaf is reported at its own path', () => {
    fc.assert(
      fc.property(fc.nat(), fc.constantFrom(null, '', -1, TEN_MB, { __proto__: null }, []), (pick, value) => {
        const json = structuredClone(VALID) as unknown;
        const leaves: { parent: Record<string, unknown> | unknown[]; key: string | number; path: string }[] = [];
        const walk = (node: unknown, path: string) => {
          if (typeof node !== 'object' || node === null) return;
          for (const [key, child] of Object.entries(node)) {
            const childPath = Array.isArray(node) ? `${path}[${key}]` : path === '' ? key : `${path}.${key}`;
            if (typeof child === 'object' && child !== null) walk(child, childPath);
            else leaves.push({ parent: node as Record<string, unknown>, key: Array.isArray(node) ? Number(key) : key, path: childPath });
          }
        };
        walk(json, '');
        const leaf = leaves[pick % leaves.length]!;
        (leaf.parent as Record<string | number, unknown>)[leaf.key] = value;
        const result = check(json);
        // Every leaf of VALID is constrained: none of these values is acceptable in its place, except
        // -1 as an action's minutes (its R1/R2 range is the engine's to refuse when the action runs).
        if (value === -1 && leaf.path.endsWith('.minutes')) expect(result.scenario).toBeDefined();
        else expect(result.problems?.map((p) => p.path)).toContain(leaf.path);
      }),
      { numRuns: 300 },
    );
  });
});

describe('JSON text', () => {
  /** JSON texts, whole or damaged (cut short, a character dropped, or one inserted). */
  const jsonText = fc.oneof(
    fc.json({ maxDepth: 3 }),
    fc.tuple(fc.json({ maxDepth: 3 }), fc.nat(), fc.constantFrom('', ',', '}', ']', '"', ':', '\n', 'x', '\\', '-', '0', ' ', '\u0001')).map(
      ([text, at, insert]) => {
        const cut = at % (text.length + 1);
        return at % 3 === 0 ? text.slice(0, cut) : at % 3 === 1 ? text.slice(0, cut) + text.slice(cut + 1) : text.slice(0, cut) + insert + text.slice(cut);
      },
    ),
  );

  it('our scan finds an error exactly when JSON.parse does, and parseJsonText never throws', () => {
    fc.assert(
      fc.property(jsonText, (text) => {
        let parses = true;
        try {
          JSON.parse(text);
        } catch {
          parses = false;
        }
        expect(scanForError(text) === undefined).toBe(parses);
        const parsed = parseJsonText(text);
        expect(parsed.ok).toBe(parses);
        if (!parsed.ok) {
          expect(parsed.line).toBeGreaterThanOrEqual(1);
          expect(parsed.column).toBeGreaterThanOrEqual(1);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
