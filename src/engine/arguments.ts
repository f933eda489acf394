/**
 * Type checks at the engine's API. The HTTP API and the scenario loader check what they receive,
 * but in-process callers reach the engine directly, and a value of the wrong type must be refused
 * with a RekeyError that names it, never recorded (`{"enabled": "x"}`) or turned into a TypeError.
 */
import { RekeyError, errorKind } from '../kernel/errors.js';

export const ARGUMENT_TYPE_INVALID = errorKind('ARGUMENT_TYPE_INVALID', 'validation');

function shown(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) return String(value);
  return Array.isArray(value) ? 'an array' : `a ${typeof value}`;
}

function refuse(what: string, value: unknown, expected: string): never {
  const actual = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
  throw new RekeyError(ARGUMENT_TYPE_INVALID, `${what} ${shown(value)} is ${actual === 'undefined' ? 'missing' : `of type ${actual}`}; expected ${expected}`, { argument: what, type: actual });
}

export function requireString(what: string, value: unknown): string {
  return typeof value === 'string' ? value : refuse(what, value, 'a string');
}

export function requireBoolean(what: string, value: unknown): boolean {
  return typeof value === 'boolean' ? value : refuse(what, value, 'a boolean (true or false)');
}

export function optionalBoolean(what: string, value: unknown): boolean | undefined {
  return value === undefined ? undefined : requireBoolean(what, value);
}
