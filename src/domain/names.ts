/**
 * Names of machine groups, machines and connections: what the portal accepts, and what rekey does.
 *
 * A name becomes a table's `name` column, a path segment, a log field and a line of `rekey query`
 * output, so the rule admits nothing a terminal or a log reader would interpret: no control
 * characters (newlines, escape sequences), no invisible formatting characters (bidirectional
 * overrides), no line or paragraph separators. Every entry checks names with this one rule (the
 * engine's decisions, the scenario loader, the HTTP commands, the machine API and the import), and
 * every refusal names the first offending character by code point and position, never printing it
 * raw.
 */
import { RekeyError } from '../kernel/errors.js';
import { NAME_INVALID } from './group/errors.js';

export const MAX_NAME_LENGTH = 100;
/**
 * As Dataverse's `name` columns of flowmachinegroup and flowmachine allow (a String of at most 100
 * characters: "HR (EU)", "Lab #2", "Büro Köln"), less what no portal shows: control and format
 * characters, line breaks, and spaces at either end. (With the `u` flag lengths count code points,
 * as JSON Schema does.)
 */
export const NAME_PATTERN = /^(?!\s)(?!.*\s$)[^\p{Cc}\p{Cf}\u2028\u2029]{1,100}$/u;
export const NAME_RULE = '1 to 100 characters (letters, digits, spaces, punctuation), no control characters or line breaks, no space at either end';

/** What no name may hold anywhere (NAME_PATTERN's character class, one character at a time). */
const FORBIDDEN = /^[\p{Cc}\p{Cf}\u2028\u2029]$/u;
const WHITE_SPACE = /^\s$/u;
/** Characters shown as they are in messages; everything else is written as \u{...}. */
const SHOWN_AS_IS = /^[\p{L}\p{N}\p{P}\p{S} ]$/u;

/**
 * Why `name` breaks the rule, naming the first offending character by its code point and its
 * position (1-based, in characters); null when it keeps the rule (exactly when NAME_PATTERN matches).
 */
export function nameProblem(name: string): string | null {
  if (name.length === 0) return 'it is empty';
  let index = 0;
  let last = '';
  for (const character of name) {
    if (index === MAX_NAME_LENGTH) {
      // Counted only while cheap: a 10 MB name is refused without walking it.
      const length = name.length <= 10_000 ? [...name].length : name.length;
      return `it is ${length} characters long, more than ${MAX_NAME_LENGTH}`;
    }
    if (FORBIDDEN.test(character)) return `character ${index + 1} is ${describeCharacter(character)}`;
    if (index === 0 && WHITE_SPACE.test(character)) return `character 1 is ${describeCharacter(character)}, and a name must not start with white space`;
    last = character;
    index++;
  }
  if (WHITE_SPACE.test(last)) return `character ${index} is ${describeCharacter(last)}, and a name must not end with white space`;
  return null;
}

/** `U+000A (a control character)`, `U+202E (an invisible formatting character)`, `U+0021 '!'`. */
export function describeCharacter(character: string): string {
  const codePoint = character.codePointAt(0)!;
  const code = `U+${codePoint.toString(16).toUpperCase().padStart(4, '0')}`;
  if (character === ' ') return `${code} (a space)`;
  if (/^\p{Cc}$/u.test(character)) return `${code} (a control character)`;
  if (/^\p{Cf}$/u.test(character)) return `${code} (an invisible formatting character)`;
  if (character === '\u2028') return `${code} (a line separator)`;
  if (character === '\u2029') return `${code} (a paragraph separator)`;
  if (WHITE_SPACE.test(character)) return `${code} (white space)`;
  return SHOWN_AS_IS.test(character) ? `${code} '${character}'` : code;
}

/**
 * A value as a message may show it: quoted, every character that is not a letter, digit,
 * punctuation, symbol or plain space written as \u{...}, cut to 60 characters. Never a raw control
 * character, so an error message cannot carry a newline or a terminal escape sequence.
 */
export function showName(value: unknown): string {
  if (typeof value !== 'string') {
    if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
    return value === undefined ? 'nothing' : Array.isArray(value) ? 'an array' : `a value of type ${typeof value}`;
  }
  let shown = '';
  let count = 0;
  for (const c of value) {
    if (count++ === 60) return `"${shown}..." (${value.length} characters)`;
    shown += c === '"' || c === '\\' ? `\\${c}` : SHOWN_AS_IS.test(c) ? c : `\\u{${c.codePointAt(0)!.toString(16).toUpperCase()}}`;
  }
  return `"${shown}"`;
}

/** The reason a name is refused, as a sentence: `machine name "A\u{A}B" is invalid: character 2 is U+000A ...`. */
export function nameRefusal(name: unknown, what: string): string | null {
  if (typeof name !== 'string') return `${what} must be a string; got ${showName(name)}`;
  const problem = nameProblem(name);
  return problem === null ? null : `${what} ${showName(name)} is invalid: ${problem}; expected ${NAME_RULE}`;
}

export function checkName(name: unknown, what: string): string {
  const refusal = nameRefusal(name, what);
  if (refusal !== null) throw new RekeyError(NAME_INVALID, refusal, { value: showName(name) });
  return name as string;
}
