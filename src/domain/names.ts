/** Names of machine groups, machines and connections: what the portal accepts, and what rekey does. */
import { RekeyError } from '../kernel/errors.js';
import { NAME_INVALID } from './group/errors.js';

export const MAX_NAME_LENGTH = 100;
/**
 * As Dataverse's `name` columns of flowmachinegroup and flowmachine allow (a String of at most 100
 * characters: "HR (EU)", "Lab #2", "Büro Köln"), less what no portal shows: control and format
 * characters, line breaks, and spaces at either end.
 */
export const NAME_PATTERN = /^(?!\s)(?!.*\s$)[^\p{Cc}\p{Cf}\u2028\u2029]{1,100}$/u;
export const NAME_RULE = '1 to 100 characters (letters, digits, spaces, punctuation), no control characters or line breaks, no space at either end';

export function checkName(name: unknown, what: string): string {
  if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
    throw new RekeyError(NAME_INVALID, `${what} ${JSON.stringify(name)} is invalid; expected ${NAME_RULE}`, { value: name });
  }
  return name;
}
