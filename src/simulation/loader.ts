/**
 * Scenario files (docs/scenarios.md) to a validated Scenario. The whole file is checked before
 * anything runs and every problem is reported at once, each with its JSON path and what was
 * expected, in one RekeyError SCENARIO_INVALID (kind validation, exit 2). The file's own fields are
 * only read, never copied, so keys such as `__proto__` are reported as unknown and nothing else.
 *
 * Decisions beyond docs/scenarios.md (docs/scenario-schema.json states them for users):
 * - `connections` is optional like `actions` (default []; the project's examples rely on it).
 * - Defaults: seed 1; pickupDelayMinutes and checkInIntervalMinutes 1,440 (R4, R21); group periods
 *   R1/R2's defaults; proactiveReencryption false; online []; runEveryMinutes none; runAt []; actions [].
 * - Bounds: seed 0..4,294,967,295; pickupDelayMinutes and checkInIntervalMinutes 1..525,600;
 *   runEveryMinutes 1..5,256,000; passwords and usernames 1..10,000 characters; names as the domain's
 *   (1..100 characters); at most 100,000 items per array.
 * - `end` is after `start`. Instants of things that happen lie in [start, end), as the simulation
 *   stops at `end`: joinAt, createAt, runAt (also >= createAt), actions' `at`, online `from`. An
 *   online interval's `to` may be `end` or later (the machine is still online when the simulation
 *   stops). Intervals are half-open: [a, b) and [b, c) do not overlap.
 * - An action's `minutes` must be a whole number here; its R1/R2 range depends on the settings
 *   recorded when it runs, so a value out of range is a refusal listed in `rejected`, not a file error.
 * - Actions that act through the machine's group (addMachine, rejoin, regeneratePassword,
 *   removeMachine) must name a machine that has a `group`.
 * - Output: each machine's online intervals sorted by `from`; each connection's runAt sorted
 *   (duplicates are refused); actions in file order with their `index`.
 */
import { readFileSync, statSync } from 'node:fs';
import {
  DEFAULT_CHECK_IN_INTERVAL_MINUTES,
  DEFAULT_GRACE_MINUTES,
  DEFAULT_PICKUP_DELAY_MINUTES,
  DEFAULT_VALIDITY_MINUTES,
  MAX_VALIDITY_MINUTES,
  MIN_GRACE_MINUTES,
  MIN_VALIDITY_MINUTES,
  checkGrace,
  checkValidity,
} from '../domain/periods.js';
import { isRekeyError } from '../kernel/errors.js';
import { type Instant, toIso } from '../domain/time.js';
import {
  ACTIONS_THROUGH_GROUP,
  ACTION_FIELDS,
  ACTION_TYPES,
  type ActionField,
  type ActionType,
  DEFAULT_SEED,
  MAX_MACHINES_PER_GROUP,
  MAX_FROM_FILES,
  MAX_NAME_LENGTH,
  NAME_PATTERN,
  RUN_EVERY_MAX_MINUTES,
  RUN_EVERY_MIN_MINUTES,
  SCENARIO_FIELDS,
  SEED_MAX,
  SEED_MIN,
  SETTING_MAX_MINUTES,
  SETTING_MIN_MINUTES,
} from './loader/fields.js';
import { type ScenarioProblem, Problems, describe, quote, scenarioInvalid } from './loader/problems.js';
import { parseJsonText } from './loader/jsonText.js';
import {
  type Slot,
  readArray,
  readBoolean,
  readInstant,
  readInteger,
  readName,
  readObject,
  readText,
  readVersion,
} from './loader/read.js';
import type {
  ExternalReference,
  Interval,
  Scenario,
  ScenarioFrom,
  ScenarioAction,
  ScenarioConnection,
  ScenarioGroup,
  ScenarioMachine,
} from './scenario.js';

export { SCENARIO_INVALID, MAX_LISTED_PROBLEMS, type ScenarioProblem } from './loader/problems.js';
export * from './loader/fields.js';

/** Refuses scenario files larger than this before reading them (64 MiB). */
export const MAX_FILE_BYTES = 64 * 1024 * 1024;

/**
 * Validates a parsed scenario file (any JSON value) and returns it typed, with instants as epoch ms
 * and defaults filled in. Throws one RekeyError SCENARIO_INVALID listing every problem.
 */
export function loadScenario(json: unknown): Scenario {
  return loadScenarioWithWarnings(json).scenario;
}

/**
 * loadScenario, plus warnings: things the file may say but the run will likely refuse. Today: more
 * than MAX_MACHINES_PER_GROUP (R9) machines joining one group through `joinAt`.
 */
export function loadScenarioWithWarnings(json: unknown, file?: string): { scenario: Scenario; warnings: ScenarioProblem[] } {
  const problems = new Problems();
  const scenario = new ScenarioReader(problems).scenario({ value: json, path: '', required: true });
  if (scenario === undefined || problems.count > 0) throw scenarioInvalid(problems.list, file);
  return { scenario, warnings: joinWarnings(scenario) };
}

/**
 * Reads, parses and validates a scenario file. A file that cannot be read or is not JSON is reported
 * as SCENARIO_INVALID too (path `$`), a syntax error with its line and column.
 */
export function loadScenarioFile(path: string): Scenario {
  return loadScenarioFileWithWarnings(path).scenario;
}

export function loadScenarioFileWithWarnings(path: string): { scenario: Scenario; warnings: ScenarioProblem[] } {
  const fileProblem = (wrong: string, expected: string) => {
    const problems = new Problems();
    problems.add('', wrong, expected);
    return scenarioInvalid(problems.list, path);
  };
  let text: string;
  try {
    const size = statSync(path).size;
    if (size > MAX_FILE_BYTES) throw fileProblem(`the file is ${size} bytes`, `at most ${MAX_FILE_BYTES} bytes`);
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if (isRekeyError(error)) throw error;
    const reason = error instanceof Error ? error.message : String(error);
    throw fileProblem(`cannot read the file (${reason})`, 'a readable scenario file');
  }
  const parsed = parseJsonText(text);
  if (!parsed.ok) {
    const where = parsed.line === undefined ? '' : ` at line ${parsed.line}, column ${parsed.column}`;
    const error = fileProblem(`is not valid JSON${where} (${parsed.message})`, 'a JSON scenario file (docs/scenarios.md)');
    if (parsed.line !== undefined) Object.assign(error.details, { line: parsed.line, column: parsed.column });
    throw error;
  }
  return loadScenarioWithWarnings(parsed.value, path);
}

/** The names declared so far, with where: references are checked against them. */
interface Declared<T> {
  readonly byName: Map<string, { readonly path: string; readonly info: T }>;
}

interface MachineInfo {
  /** The machine's group, or null when it has none (or its group field is bad: see `groupKnown`). */
  readonly group: string | null;
  readonly groupKnown: boolean;
}

/** The window instants must lie in; undefined when start or end is bad (nothing is compared then). */
type Window = { readonly start: Instant; readonly end: Instant } | undefined;

class ScenarioReader {
  private window: Window;
  private readonly groups: Declared<null> = { byName: new Map() };
  private readonly machines: Declared<MachineInfo> = { byName: new Map() };
  private readonly connections: Declared<null> = { byName: new Map() };

  /** With `from`, names of groups and machines that the starting state may hold (checked when it is read). */
  private continuesFrom = false;
  private readonly external: ExternalReference[] = [];

  constructor(private readonly problems: Problems) {}

  scenario(slot: Slot): Scenario | undefined {
    const fields = readObject(this.problems, slot, SCENARIO_FIELDS.scenario, 'a scenario');
    if (!fields) return undefined;
    const from = this.from(fields.slot('from'));
    const start = readInstant(this.problems, fields.slot('start'));
    const end = readInstant(this.problems, fields.slot('end'));
    if (start !== undefined && end !== undefined) {
      if (end > start) this.window = { start, end };
      else this.problems.add(fields.slot('end').path, `${toIso(end)} is not after start ${toIso(start)}`, 'an instant after start');
    }
    const seed = readInteger(this.problems, fields.slot('seed'), { min: SEED_MIN, max: SEED_MAX, note: 'an unsigned 32-bit seed' });
    const settings = this.settings(fields.slot('settings'));
    const groups = this.items(fields.slot('groups'), 'the machine groups', (item) => this.group(item));
    const machines = this.items(fields.slot('machines'), 'the machines', (item) => this.machine(item));
    const connections = this.items(fields.slot('connections'), 'the desktop flow connections', (item) => this.connection(item));
    const actions = this.items(fields.slot('actions'), 'the actions', (item, index) => this.action(item, index));
    if (this.problems.count > 0 || start === undefined || end === undefined) return undefined;
    const continued = from === undefined ? {} : { from, externalReferences: this.external };
    return { ...continued, start, end, seed: seed ?? DEFAULT_SEED, settings, groups, machines, connections, actions };
  }

  /** `from`: "store", or {"export": [files]}; with it, groups and machines may be those of the starting state. */
  private from(slot: Slot): ScenarioFrom | undefined {
    const value = slot.value;
    if (value === undefined) return undefined;
    this.continuesFrom = true;
    const expected = '"store" (continue from the store given with --db) or {"export": ["file.json", ...]}';
    if (value === 'store') return { kind: 'store' };
    if (typeof value === 'string') {
      this.problems.add(slot.path, `${quote(value)} is not a starting state`, expected);
      return undefined;
    }
    const fields = readObject(this.problems, slot, { export: 'required' }, 'the starting state');
    if (!fields) return undefined;
    const items = readArray(this.problems, fields.slot('export'), 'the export files');
    if (!items) return undefined;
    if (items.length === 0 || items.length > MAX_FROM_FILES) {
      this.problems.add(fields.slot('export').path, `has ${items.length} files`, `1 to ${MAX_FROM_FILES} export files`);
      return undefined;
    }
    const files: string[] = [];
    for (const item of items) {
      const file = readText(this.problems, item, 'an export file path');
      if (file !== undefined) files.push(file);
    }
    return files.length === items.length ? { kind: 'export', files } : undefined;
  }

  private items<T>(slot: Slot, what: string, read: (item: Slot, index: number) => T | undefined): T[] {
    const items = readArray(this.problems, slot, what) ?? [];
    const result: T[] = [];
    items.forEach((item, index) => {
      const value = read(item, index);
      if (value !== undefined) result.push(value);
    });
    return result;
  }

  private settings(slot: Slot): Scenario['settings'] {
    const fields = readObject(this.problems, slot, SCENARIO_FIELDS.settings, 'the settings');
    const minutes = (key: string, fallback: number) =>
      (fields && readInteger(this.problems, fields.slot(key), { min: SETTING_MIN_MINUTES, max: SETTING_MAX_MINUTES, unit: 'minutes' })) ??
      fallback;
    return {
      pickupDelayMinutes: minutes('pickupDelayMinutes', DEFAULT_PICKUP_DELAY_MINUTES),
      checkInIntervalMinutes: minutes('checkInIntervalMinutes', DEFAULT_CHECK_IN_INTERVAL_MINUTES),
    };
  }

  private group(slot: Slot): ScenarioGroup | undefined {
    const fields = readObject(this.problems, slot, SCENARIO_FIELDS.group, 'a machine group');
    if (!fields) return undefined;
    const name = this.declare(this.groups, fields.slot('name'), 'machine group name', null);
    const password = readText(this.problems, fields.slot('password'), 'the group password');
    const validity = this.validity(fields.slot('keyValidityPeriod'));
    const grace = this.grace(fields.slot('keyExpiryGracePeriod'), validity ?? DEFAULT_VALIDITY_MINUTES, validity !== undefined);
    const proactiveReencryption = readBoolean(this.problems, fields.slot('proactiveReencryption')) ?? false;
    if (name === undefined || password === undefined || validity === undefined || grace === undefined) return undefined;
    return { name, password, keyValidityPeriod: validity, keyExpiryGracePeriod: grace, proactiveReencryption };
  }

  /** R1 by the domain's checkValidity; the default when absent. */
  private validity(slot: Slot): number | undefined {
    if (slot.value === undefined) return DEFAULT_VALIDITY_MINUTES;
    const minutes = readInteger(this.problems, slot, { unit: 'minutes' });
    if (minutes === undefined) return undefined;
    try {
      return checkValidity(minutes);
    } catch (error) {
      if (!isRekeyError(error)) throw error;
      this.problems.add(slot.path, error.message, `an integer from ${MIN_VALIDITY_MINUTES} to ${MAX_VALIDITY_MINUTES} (R1)`);
      return undefined;
    }
  }

  /** R2 by the domain's checkGrace, against the group's validity (when that one is valid). */
  private grace(slot: Slot, validity: number, validityKnown: boolean): number | undefined {
    if (slot.value === undefined) {
      if (!validityKnown) return DEFAULT_GRACE_MINUTES;
      try {
        return checkGrace(DEFAULT_GRACE_MINUTES, validity);
      } catch (error) {
        if (!isRekeyError(error)) throw error;
        this.problems.add(
          slot.path,
          `is missing, and its default ${DEFAULT_GRACE_MINUTES} is above half of keyValidityPeriod ${validity}`,
          `keyExpiryGracePeriod from ${MIN_GRACE_MINUTES} to ${Math.floor(validity / 2)} (R2)`,
        );
        return undefined;
      }
    }
    const minutes = readInteger(this.problems, slot, { unit: 'minutes' });
    if (minutes === undefined) return undefined;
    try {
      return checkGrace(minutes, validityKnown ? validity : MAX_VALIDITY_MINUTES);
    } catch (error) {
      if (!isRekeyError(error)) throw error;
      const maximum = Math.floor((validityKnown ? validity : MAX_VALIDITY_MINUTES) / 2);
      this.problems.add(slot.path, error.message, `an integer from ${MIN_GRACE_MINUTES} to ${maximum}, half of keyValidityPeriod (R2)`);
      return undefined;
    }
  }

  private machine(slot: Slot): ScenarioMachine | undefined {
    const fields = readObject(this.problems, slot, SCENARIO_FIELDS.machine, 'a machine');
    if (!fields) return undefined;
    const groupSlot = fields.slot('group');
    const group = this.reference(this.groups, groupSlot, 'machine group');
    const groupKnown = groupSlot.value === undefined || group !== undefined;
    const name = this.declare(this.machines, fields.slot('name'), 'machine name', {
      group: group ?? null,
      // A bad group field is reported once, at the machine; actions naming it then say nothing more.
      groupKnown,
    });
    const agentVersion = readVersion(this.problems, fields.slot('agentVersion'));
    const joinAtSlot = fields.slot('joinAt');
    const joinAt = this.instantIn(joinAtSlot, 'joinAt');
    if (joinAtSlot.value !== undefined && groupSlot.value === undefined) {
      this.problems.add(joinAtSlot.path, 'is set but the machine has no group to join', 'a `group` beside `joinAt`, or no `joinAt`');
    }
    const online = this.online(fields.slot('online'));
    if (name === undefined || agentVersion === undefined || online === undefined) return undefined;
    return { name, group: group ?? null, agentVersion, joinAt: joinAt ?? null, online };
  }

  /** R21: half-open intervals, each to > from, sorted, none overlapping. */
  private online(slot: Slot): Interval[] | undefined {
    if (slot.value === undefined) return [];
    const items = readArray(this.problems, slot, 'the online intervals');
    if (!items) return undefined;
    const intervals: { interval: Interval; path: string; index: number }[] = [];
    items.forEach((item, index) => {
      const fields = readObject(this.problems, item, SCENARIO_FIELDS.interval, 'an online interval');
      if (!fields) return;
      const from = this.instantIn(fields.slot('from'), 'from');
      const toSlot = fields.slot('to');
      const to = readInstant(this.problems, toSlot);
      if (from === undefined || to === undefined) return;
      if (to <= from) {
        this.problems.add(toSlot.path, `${toIso(to)} is not after from ${toIso(from)}`, 'an instant after `from` (intervals are [from, to))');
        return;
      }
      intervals.push({ interval: { from, to }, path: item.path, index });
    });
    intervals.sort((a, b) => a.interval.from - b.interval.from || a.index - b.index);
    for (let k = 1; k < intervals.length; k++) {
      const previous = intervals[k - 1]!;
      const current = intervals[k]!;
      if (current.interval.from < previous.interval.to) {
        this.problems.add(
          current.path,
          `[${toIso(current.interval.from)}, ${toIso(current.interval.to)}) overlaps online[${previous.index}] [${toIso(previous.interval.from)}, ${toIso(previous.interval.to)})`,
          'online intervals that do not overlap (a next interval may start where one ends)',
        );
      }
    }
    return intervals.map((entry) => entry.interval);
  }

  private connection(slot: Slot): ScenarioConnection | undefined {
    const fields = readObject(this.problems, slot, SCENARIO_FIELDS.connection, 'a desktop flow connection');
    if (!fields) return undefined;
    const name = this.declare(this.connections, fields.slot('name'), 'connection name', null);
    let target: ScenarioConnection['target'] | undefined;
    const hasGroup = fields.has('group');
    const hasMachine = fields.has('machine');
    if (hasGroup && hasMachine) {
      this.problems.add(slot.path, 'has both `group` and `machine`', 'exactly one target: `group` or `machine`');
    } else if (!hasGroup && !hasMachine) {
      this.problems.add(slot.path, 'has neither `group` nor `machine`', 'exactly one target: `group` or `machine`');
    } else if (hasGroup) {
      const group = this.reference(this.groups, fields.slot('group'), 'machine group');
      if (group !== undefined) target = { type: 'group', name: group };
    } else {
      const machine = this.reference(this.machines, fields.slot('machine'), 'machine');
      if (machine !== undefined) target = { type: 'machine', name: machine };
    }
    const createAt = this.instantIn(fields.slot('createAt'), 'createAt');
    const username = readText(this.problems, fields.slot('username'), 'the connection username');
    const password = readText(this.problems, fields.slot('password'), 'the connection password');
    const runEveryMinutes = readInteger(this.problems, fields.slot('runEveryMinutes'), {
      min: RUN_EVERY_MIN_MINUTES,
      max: RUN_EVERY_MAX_MINUTES,
      unit: 'minutes',
    });
    const runAt = this.runAt(fields.slot('runAt'), createAt);
    if (name === undefined || target === undefined || createAt === undefined || username === undefined ||
      password === undefined || runAt === undefined) return undefined;
    return { name, target, createAt, username, password, runEveryMinutes: runEveryMinutes ?? null, runAt };
  }

  /** Distinct instants in [createAt, end], sorted. */
  private runAt(slot: Slot, createAt: Instant | undefined): Instant[] | undefined {
    if (slot.value === undefined) return [];
    const items = readArray(this.problems, slot, 'the run instants');
    if (!items) return undefined;
    const seen = new Map<Instant, string>();
    const result: Instant[] = [];
    for (const item of items) {
      const at = this.instantIn(item, 'a run');
      if (at === undefined) continue;
      if (createAt !== undefined && at < createAt) {
        this.problems.add(item.path, `${toIso(at)} is before the connection's createAt ${toIso(createAt)}`, 'a run at or after createAt');
        continue;
      }
      const first = seen.get(at);
      if (first !== undefined) {
        this.problems.add(item.path, `${toIso(at)} repeats ${first}`, 'distinct run instants');
        continue;
      }
      seen.set(at, item.path);
      result.push(at);
    }
    return result.sort((a, b) => a - b);
  }

  private action(slot: Slot, index: number): ScenarioAction | undefined {
    const type = this.actionType(slot);
    const table: Record<string, 'required'> = { at: 'required', do: 'required' };
    if (type !== undefined) for (const key of ACTION_FIELDS[type]) table[key] = 'required';
    const what = type === undefined ? 'an action' : `a ${type} action`;
    // Without a known `do`, only `at` and `do` are checked: the other fields depend on it.
    const fields = readObject(this.problems, slot, type === undefined ? anyActionFields : table, what);
    if (!fields) return undefined;
    const at = this.instantIn(fields.slot('at'), 'the action');
    if (type === undefined) return undefined;
    const action: Record<string, unknown> = { at, index, do: type };
    let complete = at !== undefined;
    for (const key of ACTION_FIELDS[type] as readonly ActionField[]) {
      const value = this.actionField(type, key, fields.slot(key));
      if (value === undefined) complete = false;
      else action[key] = value; // keys come from ACTION_FIELDS, never from the file
    }
    return complete ? (action as ScenarioAction) : undefined;
  }

  /** The action's `do`, reported when missing or unknown. */
  private actionType(slot: Slot): ActionType | undefined {
    const value = slot.value;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined; // readObject reports it
    const descriptor = Object.getOwnPropertyDescriptor(value, 'do');
    const type: unknown = descriptor && 'value' in descriptor ? descriptor.value : undefined;
    const path = `${slot.path}.do`;
    const expected = `one of ${ACTION_TYPES.join(', ')}`;
    if (type === undefined) {
      this.problems.add(path, 'is missing', expected);
      return undefined;
    }
    if (typeof type !== 'string' || !Object.prototype.hasOwnProperty.call(ACTION_FIELDS, type)) {
      this.problems.add(path, typeof type === 'string' ? `${quote(type)} is not an action` : `got ${describe(type)}`, expected);
      return undefined;
    }
    return type as ActionType;
  }

  private actionField(type: ActionType, key: ActionField, slot: Slot): unknown {
    switch (key) {
      case 'group':
        return this.reference(this.groups, slot, 'machine group');
      case 'machine': {
        const machine = this.reference(this.machines, slot, 'machine');
        if (machine === undefined) return undefined;
        const info = this.machines.byName.get(machine)?.info;
        if (ACTIONS_THROUGH_GROUP.has(type) && info !== undefined && info.groupKnown && info.group === null && !this.continuesFrom) {
          this.problems.add(slot.path, `machine ${quote(machine)} has no group, so ${type} has nothing to act on`, 'a machine declared with a `group`');
          return undefined;
        }
        return machine;
      }
      case 'connection':
        return this.reference(this.connections, slot, 'connection');
      case 'minutes':
        // The R1/R2 range is the engine's to check when the action runs (a refusal, not a file error).
        return readInteger(this.problems, slot, { unit: 'minutes' });
      case 'enabled':
        return readBoolean(this.problems, slot);
      case 'password':
        return readText(this.problems, slot, type === 'fixConnection' ? 'the new connection password' : 'the password to type');
      case 'newPassword':
        return readText(this.problems, slot, 'the new group password');
      case 'agentVersion':
        return readVersion(this.problems, slot);
    }
  }

  /** An instant of something that happens: in [start, end), as the simulation stops at `end`. */
  private instantIn(slot: Slot, what: string): Instant | undefined {
    const at = readInstant(this.problems, slot);
    if (at === undefined || this.window === undefined) return at;
    const { start, end } = this.window;
    if (at < start || at >= end) {
      this.problems.add(
        slot.path,
        `${toIso(at)} is outside the scenario [${toIso(start)}, ${toIso(end)})`,
        `${what} at or after start and before end (the simulation stops at end)`,
      );
      return undefined;
    }
    return at;
  }

  /** Reads a name and records it; a repeated name is reported and not recorded again. */
  private declare<T>(declared: Declared<T>, slot: Slot, what: string, info: T): string | undefined {
    const name = readName(this.problems, slot, what);
    if (typeof slot.value === 'string' && slot.value.length <= MAX_NAME_LENGTH) {
      // Even a malformed name is recorded, so references to it do not repeat the problem.
      const first = declared.byName.get(slot.value);
      if (first !== undefined) {
        if (name !== undefined) this.problems.add(slot.path, `${quote(name)} is already the name of ${first.path.replace(/\.name$/, '')}`, `a unique ${what}`);
        return undefined;
      }
      declared.byName.set(slot.value, { path: slot.path, info });
    }
    return name;
  }

  /** A name that must be declared above (groups before machines before connections). */
  private reference<T>(declared: Declared<T>, slot: Slot, what: string): string | undefined {
    if (slot.value === undefined) {
      if (slot.required) this.problems.add(slot.path, 'is missing', `the name of a ${what} of this scenario`);
      return undefined;
    }
    if (typeof slot.value !== 'string') {
      this.problems.add(slot.path, `got ${describe(slot.value)}`, `the name of a ${what} of this scenario`);
      return undefined;
    }
    if (!declared.byName.has(slot.value)) {
      if (this.continuesFrom && (what === 'machine group' || what === 'machine') && NAME_PATTERN.test(slot.value)) {
        // Continued scenarios may name what the starting state holds: checked once it is read.
        this.external.push({ path: slot.path, what, name: slot.value });
        return slot.value;
      }
      this.problems.add(slot.path, `${quote(slot.value)} is not a ${what} of this scenario`, `the name of a ${what} of this scenario${known(declared)}`);
      return undefined;
    }
    return slot.value;
  }
}

/** ` (one of A, B, C)`: the first few declared names, to point at the likely typo. */
function known(declared: Declared<unknown>): string {
  const names = [...declared.byName.keys()];
  if (names.length === 0) return ' (it declares none)';
  const shown = names.slice(0, 5).map(quote).join(', ');
  return names.length > 5 ? ` (one of ${shown}, ...)` : ` (one of ${shown})`;
}

/** Every field any action may have: used when `do` is unknown, so only truly foreign fields show. */
const anyActionFields: Record<string, 'required' | 'optional'> = { at: 'required', do: 'required' };
for (const keys of Object.values(ACTION_FIELDS)) for (const key of keys) anyActionFields[key] = 'optional';

/** R9: more than MAX_MACHINES_PER_GROUP joinAt joins into one group (the extra joins will be refused). */
function joinWarnings(scenario: Scenario): ScenarioProblem[] {
  const joins = new Map<string, { at: Instant; index: number }[]>();
  scenario.machines.forEach((machine, index) => {
    if (machine.group === null || machine.joinAt === null) return;
    const list = joins.get(machine.group) ?? [];
    list.push({ at: machine.joinAt, index });
    joins.set(machine.group, list);
  });
  const warnings: ScenarioProblem[] = [];
  for (const [group, list] of joins) {
    if (list.length <= MAX_MACHINES_PER_GROUP) continue;
    list.sort((a, b) => a.at - b.at || a.index - b.index);
    const first = list[MAX_MACHINES_PER_GROUP]!;
    warnings.push({
      path: `machines[${first.index}].joinAt`,
      message: `is join ${MAX_MACHINES_PER_GROUP + 1} of ${list.length} into machine group ${quote(group)} through joinAt; expected at most ${MAX_MACHINES_PER_GROUP} members (R9): later joins are refused unless machines are removed first`,
    });
  }
  return warnings;
}
