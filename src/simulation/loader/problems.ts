/**
 * The problems a scenario file has, each with the JSON path of the bad value and what was expected,
 * and the one RekeyError (SCENARIO_INVALID) that reports them all.
 */
import { RekeyError, errorKind } from '../../kernel/errors.js';

export const SCENARIO_INVALID = errorKind('SCENARIO_INVALID', 'validation');

/** How many problems the error's message lists; `details.problems` carries them all. */
export const MAX_LISTED_PROBLEMS = 20;

export interface ScenarioProblem {
  /** JSON path of the offending value, e.g. `machines[3].agentVersion`; `$` is the whole file. */
  readonly path: string;
  /** `<what is wrong>; expected <what is right>` */
  readonly message: string;
}

export class Problems {
  readonly list: ScenarioProblem[] = [];

  add(path: string, wrong: string, expected: string): void {
    this.list.push({ path: path === '' ? '$' : path, message: `${wrong}; expected ${expected}` });
  }

  get count(): number {
    return this.list.length;
  }
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** `parent.key`, or `parent["odd key"]` for keys that are not identifiers (shortened when long). */
export function fieldPath(parent: string, key: string): string {
  if (IDENTIFIER.test(key) && key.length <= 64) return parent === '' ? key : `${parent}.${key}`;
  return `${parent === '' ? '$' : parent}[${quote(key)}]`;
}

export function indexPath(parent: string, index: number): string {
  return `${parent}[${index}]`;
}

/** A JSON string literal, cut short (with its length) when long, so a 10 MB value stays a short line. */
export function quote(text: string): string {
  if (text.length <= 60) return JSON.stringify(text);
  return `${JSON.stringify(text.slice(0, 40))}... (${text.length} characters)`;
}

/** A value as it appears in a message: `the number 1.5`, `the string "x"`, `an array`, `null`. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  switch (typeof value) {
    case 'string':
      return `the string ${quote(value)}`;
    case 'number':
      return `the number ${String(value)}`;
    case 'boolean':
      return `the boolean ${String(value)}`;
    case 'object':
      return 'an object';
    case 'undefined':
      return 'undefined';
    default:
      return `a ${typeof value} (not JSON)`;
  }
}

/** One error for every problem: the message lists the first MAX_LISTED_PROBLEMS, one per line. */
export function scenarioInvalid(problems: readonly ScenarioProblem[], file?: string): RekeyError {
  const count = problems.length;
  const subject = file === undefined ? 'scenario' : `scenario file ${file}`;
  const lines = problems.slice(0, MAX_LISTED_PROBLEMS).map((problem) => `${problem.path}: ${problem.message}`);
  if (count > MAX_LISTED_PROBLEMS) lines.push(`... and ${count - MAX_LISTED_PROBLEMS} more`);
  const message = `${subject} is invalid (${count} ${count === 1 ? 'problem' : 'problems'}):\n${lines.join('\n')}`;
  const details: Record<string, unknown> = { problems: [...problems] };
  if (file !== undefined) details['file'] = file;
  return new RekeyError(SCENARIO_INVALID, message, details, 'validation');
}
