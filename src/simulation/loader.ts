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
 *
 * This file reads the file and the scenario's top level; each section is read in loader/ by the file
 * named for it (fromSection, settingsSection, groupSection, machineSection, connectionSection,
 * actionSection), over what they share (readContext.ts); joinWarnings.ts warns of joins R9 refuses.
 */
import { readFileSync, statSync } from 'node:fs';
import { isRekeyError } from '../kernel/errors.js';
import { toIso } from '../domain/time.js';
import { readAction } from './loader/actionSection.js';
import { readConnection } from './loader/connectionSection.js';
import { DEFAULT_SEED, SCENARIO_FIELDS, SEED_MAX, SEED_MIN } from './loader/fields.js';
import { readFrom } from './loader/fromSection.js';
import { readGroup } from './loader/groupSection.js';
import { joinWarnings } from './loader/joinWarnings.js';
import { readMachine } from './loader/machineSection.js';
import { type ScenarioProblem, Problems, scenarioInvalid } from './loader/problems.js';
import { parseJsonText } from './loader/jsonText.js';
import { ReadContext } from './loader/readContext.js';
import { type Slot, readInstant, readInteger, readObject } from './loader/read.js';
import { readSettings } from './loader/settingsSection.js';
import type { Scenario } from './scenario.js';

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
  const scenario = readScenario(problems, { value: json, path: '', required: true });
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

/** Reads the whole scenario, section by section, into `problems`; undefined when any is wrong. */
function readScenario(problems: Problems, slot: Slot): Scenario | undefined {
  const ctx = new ReadContext(problems);
  const fields = readObject(ctx.problems, slot, SCENARIO_FIELDS.scenario, 'a scenario');
  if (!fields) return undefined;
  const from = readFrom(ctx, fields.slot('from'));
  const start = readInstant(ctx.problems, fields.slot('start'));
  const end = readInstant(ctx.problems, fields.slot('end'));
  if (start !== undefined && end !== undefined) {
    if (end > start) ctx.window = { start, end };
    else ctx.problems.add(fields.slot('end').path, `${toIso(end)} is not after start ${toIso(start)}`, 'an instant after start');
  }
  const seed = readInteger(ctx.problems, fields.slot('seed'), { min: SEED_MIN, max: SEED_MAX, note: 'an unsigned 32-bit seed' });
  const settings = readSettings(ctx, fields.slot('settings'));
  const groups = ctx.items(fields.slot('groups'), 'the machine groups', (item) => readGroup(ctx, item));
  const machines = ctx.items(fields.slot('machines'), 'the machines', (item) => readMachine(ctx, item));
  const connections = ctx.items(fields.slot('connections'), 'the desktop flow connections', (item) => readConnection(ctx, item));
  const actions = ctx.items(fields.slot('actions'), 'the actions', (item, index) => readAction(ctx, item, index));
  if (ctx.problems.count > 0 || start === undefined || end === undefined) return undefined;
  const continued = from === undefined ? {} : { from, externalReferences: ctx.external };
  return { ...continued, start, end, seed: seed ?? DEFAULT_SEED, settings, groups, machines, connections, actions };
}
