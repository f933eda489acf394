/**
 * Readers of single JSON values. Each records a problem (path + what was expected) and returns
 * undefined when the value is missing or wrong, so the loader can go on and report everything at
 * once. Values are only ever read, never copied: keys from the file (`__proto__`, `constructor`) are
 * compared with the known field names and reported, never assigned onto anything.
 */
import { parseAgentVersion } from '../../domain/agentVersion.js';
import { isRekeyError } from '../../kernel/errors.js';
import { type Instant, parseInstant } from '../../domain/time.js';
import {
  MAX_INSTANT_LENGTH,
  MAX_ITEMS_PER_ARRAY,
  MAX_NAME_LENGTH,
  MAX_TEXT_LENGTH,
  MAX_VERSION_LENGTH,
  NAME_PATTERN,
  type Presence,
} from './fields.js';
import { type Problems, describe, fieldPath, indexPath, quote } from './problems.js';

/** A value where a field was looked up: its path, and whether it had to be there. */
export interface Slot {
  readonly value: unknown;
  readonly path: string;
  readonly required: boolean;
}

/** Largest |instant| a JavaScript Date can hold (toIso must never throw on a loaded instant). */
const MAX_INSTANT_MS = 8.64e15;

export const NAME_EXPECTED =
  "1 to 100 letters, digits, spaces, '.', '_' or '-', starting with a letter or digit";
export const INSTANT_EXPECTED = 'an ISO-8601 UTC instant such as 2026-01-01T00:00:00Z';
export const VERSION_EXPECTED = 'a dotted version number of up to four parts, such as 2.23.116.23040';

/** An object's own fields, checked against the table of the fields it may have. */
export class Fields {
  constructor(
    private readonly object: object,
    readonly path: string,
    private readonly table: Readonly<Record<string, Presence>>,
  ) {}

  /** The field `key` as a slot; `value` is undefined when the object does not have it. */
  slot(key: string): Slot {
    return { value: ownValue(this.object, key), path: fieldPath(this.path, key), required: this.table[key] === 'required' };
  }

  has(key: string): boolean {
    return ownValue(this.object, key) !== undefined;
  }
}

/** An own data property (never an inherited one, never a getter). */
function ownValue(object: object, key: string): unknown {
  const descriptor = Object.getOwnPropertyDescriptor(object, key);
  return descriptor !== undefined && 'value' in descriptor ? descriptor.value : undefined;
}

function isPlainObject(value: unknown): value is object {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/** Reports a missing required value; true when there is a value to read. */
function present(problems: Problems, slot: Slot, expected: string): boolean {
  if (slot.value !== undefined) return true;
  if (slot.required) problems.add(slot.path, 'is missing', expected);
  return false;
}

/**
 * A JSON object of the given kind: reports every field it may not have (`what` names the object in
 * the message, e.g. "a machine") and returns a view of the fields it may have.
 */
export function readObject(
  problems: Problems,
  slot: Slot,
  table: Readonly<Record<string, Presence>>,
  what: string,
): Fields | undefined {
  const expected = `${what}: a JSON object`;
  if (!present(problems, slot, expected)) return undefined;
  if (!isPlainObject(slot.value)) {
    problems.add(slot.path, `got ${describe(slot.value)}`, expected);
    return undefined;
  }
  const allowed = Object.keys(table);
  for (const key of Object.keys(slot.value)) {
    if (!Object.prototype.hasOwnProperty.call(table, key)) {
      problems.add(fieldPath(slot.path, key), `is not a field of ${what}`, `only ${allowed.join(', ')}`);
    }
  }
  return new Fields(slot.value, slot.path, table);
}

/** A JSON array; its items come back as slots (all required: an item is there or the array is short). */
export function readArray(problems: Problems, slot: Slot, what: string): Slot[] | undefined {
  const expected = `${what}: a JSON array`;
  if (!present(problems, slot, expected)) return undefined;
  if (!Array.isArray(slot.value)) {
    problems.add(slot.path, `got ${describe(slot.value)}`, expected);
    return undefined;
  }
  const items: readonly unknown[] = slot.value;
  if (items.length > MAX_ITEMS_PER_ARRAY) {
    problems.add(slot.path, `has ${items.length} items`, `at most ${MAX_ITEMS_PER_ARRAY}`);
    return undefined;
  }
  const slots: Slot[] = [];
  for (let index = 0; index < items.length; index++) {
    slots.push({ value: items[index], path: indexPath(slot.path, index), required: true });
  }
  return slots;
}

/** A name (docs/scenarios.md: names identify things and become the tables' `name` column). */
export function readName(problems: Problems, slot: Slot, what: string): string | undefined {
  const expected = `a ${what}: ${NAME_EXPECTED}`;
  if (!present(problems, slot, expected)) return undefined;
  const value = slot.value;
  if (typeof value !== 'string') {
    problems.add(slot.path, `got ${describe(value)}`, expected);
    return undefined;
  }
  if (value.length > MAX_NAME_LENGTH || !NAME_PATTERN.test(value)) {
    problems.add(slot.path, `${quote(value)} is not a valid ${what}`, NAME_EXPECTED);
    return undefined;
  }
  return value;
}

/** A free text such as a password or a username: 1 to MAX_TEXT_LENGTH characters. */
export function readText(problems: Problems, slot: Slot, what: string): string | undefined {
  const expected = `${what}: a string of 1 to ${MAX_TEXT_LENGTH} characters`;
  if (!present(problems, slot, expected)) return undefined;
  const value = slot.value;
  if (typeof value !== 'string') {
    problems.add(slot.path, `got ${describe(value)}`, expected);
    return undefined;
  }
  if (value.length === 0) {
    problems.add(slot.path, 'is empty', expected);
    return undefined;
  }
  if (value.length > MAX_TEXT_LENGTH) {
    problems.add(slot.path, `is ${value.length} characters long`, `${what} of at most ${MAX_TEXT_LENGTH} characters`);
    return undefined;
  }
  return value;
}

/** A safe integer in [min, max]; `unit` completes "an integer number of ..." in the message. */
export function readInteger(
  problems: Problems,
  slot: Slot,
  range: { readonly min?: number; readonly max?: number; readonly unit?: string; readonly note?: string },
): number | undefined {
  const { min, max, unit, note } = range;
  const bounds =
    min !== undefined && max !== undefined
      ? ` from ${min} to ${max}`
      : min !== undefined
        ? ` of at least ${min}`
        : max !== undefined
          ? ` of at most ${max}`
          : '';
  const expected = `${unit === undefined ? 'an integer' : `an integer number of ${unit}`}${bounds}${note === undefined ? '' : ` (${note})`}`;
  if (!present(problems, slot, expected)) return undefined;
  const value = slot.value;
  if (typeof value !== 'number') {
    problems.add(slot.path, `got ${describe(value)}`, expected);
    return undefined;
  }
  if (!Number.isSafeInteger(value)) {
    const wrong = Number.isInteger(value)
      ? `${String(value)} is beyond the safe integer range`
      : `${String(value)} is not a whole number`;
    problems.add(slot.path, wrong, expected);
    return undefined;
  }
  if ((min !== undefined && value < min) || (max !== undefined && value > max)) {
    problems.add(slot.path, `${value} is out of range`, expected);
    return undefined;
  }
  return value;
}

export function readBoolean(problems: Problems, slot: Slot): boolean | undefined {
  if (!present(problems, slot, 'true or false')) return undefined;
  if (typeof slot.value !== 'boolean') {
    problems.add(slot.path, `got ${describe(slot.value)}`, 'true or false');
    return undefined;
  }
  return slot.value;
}

/** An ISO-8601 instant (read by the domain's parseInstant: no offset means UTC), as epoch ms. */
export function readInstant(problems: Problems, slot: Slot): Instant | undefined {
  if (!present(problems, slot, INSTANT_EXPECTED)) return undefined;
  const value = slot.value;
  if (typeof value !== 'string') {
    problems.add(slot.path, `got ${describe(value)}`, INSTANT_EXPECTED);
    return undefined;
  }
  let at: Instant | undefined;
  if (value.length <= MAX_INSTANT_LENGTH) {
    try {
      at = parseInstant(value);
    } catch (error) {
      if (!isRekeyError(error)) throw error;
    }
  }
  if (at === undefined || !Number.isFinite(at) || Math.abs(at) > MAX_INSTANT_MS) {
    problems.add(slot.path, `${quote(value)} is not an ISO-8601 instant`, INSTANT_EXPECTED);
    return undefined;
  }
  return at;
}

/** R8: an agent version is a dotted number (parsed by the domain's parseAgentVersion). */
export function readVersion(problems: Problems, slot: Slot): string | undefined {
  if (!present(problems, slot, VERSION_EXPECTED)) return undefined;
  const value = slot.value;
  if (typeof value !== 'string') {
    problems.add(slot.path, `got ${describe(value)}`, `${VERSION_EXPECTED} (a string)`);
    return undefined;
  }
  let valid = false;
  if (value.length <= MAX_VERSION_LENGTH) {
    try {
      parseAgentVersion(value);
      valid = true;
    } catch (error) {
      if (!isRekeyError(error)) throw error;
    }
  }
  if (!valid) {
    problems.add(slot.path, `${quote(value)} is not a dotted version number`, VERSION_EXPECTED);
    return undefined;
  }
  return value;
}
