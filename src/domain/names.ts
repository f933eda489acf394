/** Names of machine groups, machines and connections: what the portal accepts, and what rekey does. */
import { RekeyError } from '../kernel/errors.js';
import { NAME_INVALID } from './group/errors.js';

export const MAX_NAME_LENGTH = 100;
export const NAME_PATTERN = /^[\p{L}\p{N}][\p{L}\p{N} ._-]{0,99}$/u;
export const NAME_RULE = "1 to 100 letters, digits, spaces, '.', '_' or '-', starting with a letter or digit";

export function checkName(name: unknown, what: string): string {
  if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
    throw new RekeyError(NAME_INVALID, `${what} ${JSON.stringify(name)} is invalid; expected ${NAME_RULE}`, { value: name });
  }
  return name;
}
