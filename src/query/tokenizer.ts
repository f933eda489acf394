/**
 * Tokenizer shared by $filter, $select and $orderby. It never throws: a character sequence it cannot
 * read becomes a final `invalid` token whose `reason` the parser reports, with its position, in the
 * context of what it expected there.
 */
import { parseInstantLiteral } from './instant.js';

interface TokenBase {
  /** The source text of the token. */
  readonly text: string;
  /** UTF-16 index of the token's first character in the source. */
  readonly index: number;
}

export type Token =
  | (TokenBase & { readonly type: 'identifier' })
  | (TokenBase & { readonly type: 'string'; readonly value: string })
  | (TokenBase & { readonly type: 'number'; readonly value: number })
  | (TokenBase & { readonly type: 'instant'; readonly time: number })
  | (TokenBase & { readonly type: 'guid' })
  | (TokenBase & { readonly type: '(' | ')' | ',' | '*' | '[' | ']' | '=' })
  /** A parameter alias, `@p1`, whose value the request gives beside the filter. */
  | (TokenBase & { readonly type: 'alias' })
  | (TokenBase & { readonly type: 'invalid'; readonly reason: string })
  | (TokenBase & { readonly type: 'end' });

const GUID = /[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}(?![0-9A-Za-z_])/y;
const DATE_START = /\d{4}-\d{2}-\d{2}/y;
const INSTANT_RUN = /[0-9A-Za-z:.+-]*/y;
const NUMBER = /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const WORD_RUN = /[0-9A-Za-z_.]*/y;
/** A column, a keyword, or a dotted function name such as Microsoft.Dynamics.CRM.On. */
const IDENTIFIER = /[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*/y;
const ALIAS = /@[A-Za-z_][A-Za-z0-9_]*/y;
const WHITESPACE = /\s/;
const PUNCTUATION = new Set(['(', ')', ',', '*', '[', ']', '=']);

function matchAt(pattern: RegExp, text: string, index: number): string | undefined {
  pattern.lastIndex = index;
  const m = pattern.exec(text);
  return m === null ? undefined : m[0];
}

/** Shortens long source text for messages. */
export function shorten(text: string, max = 40): string {
  const chars = Array.from(text);
  return chars.length <= max ? text : `${chars.slice(0, max - 3).join('')}...`;
}

function describeCharacter(text: string, index: number): string {
  const code = text.codePointAt(index) ?? 0;
  const printable = code > 0x20 && !(code >= 0x7f && code <= 0xa0) && !(code >= 0xd800 && code <= 0xdfff);
  return printable ? `'${String.fromCodePoint(code)}'` : `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
}

export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text.charAt(i);
    if (WHITESPACE.test(c)) {
      i++;
      continue;
    }
    if (PUNCTUATION.has(c)) {
      tokens.push({ type: c as '(' | ')' | ',' | '*' | '[' | ']' | '=', text: c, index: i });
      i++;
      continue;
    }
    if (c === "'") {
      let value = '';
      let j = i + 1;
      let closed = false;
      while (j < text.length) {
        const quote = text.indexOf("'", j);
        if (quote < 0) break;
        value += text.slice(j, quote);
        if (text.charAt(quote + 1) === "'") {
          value += "'";
          j = quote + 2;
        } else {
          j = quote + 1;
          closed = true;
          break;
        }
      }
      if (!closed) {
        tokens.push({
          type: 'invalid',
          text: text.slice(i),
          index: i,
          reason: `an unterminated string ${shorten(text.slice(i))} (a quote inside a string is written twice: '')`,
        });
        break;
      }
      tokens.push({ type: 'string', text: text.slice(i, j), index: i, value });
      i = j;
      continue;
    }
    const guid = matchAt(GUID, text, i);
    if (guid !== undefined) {
      tokens.push({ type: 'guid', text: guid, index: i });
      i += guid.length;
      continue;
    }
    if (matchAt(DATE_START, text, i) !== undefined) {
      const run = matchAt(INSTANT_RUN, text, i) ?? '';
      const time = parseInstantLiteral(run);
      if (time === undefined) {
        tokens.push({
          type: 'invalid',
          text: run,
          index: i,
          reason: `an invalid instant '${shorten(run)}' (write an ISO-8601 instant such as 2026-01-01T00:00:00Z, or a date such as 2026-01-01)`,
        });
        break;
      }
      tokens.push({ type: 'instant', text: run, index: i, time });
      i += run.length;
      continue;
    }
    const number = matchAt(NUMBER, text, i);
    if (number !== undefined) {
      const rest = matchAt(WORD_RUN, text, i + number.length) ?? '';
      const value = Number(number);
      if (rest !== '' || !Number.isFinite(value)) {
        const whole = number + rest;
        tokens.push({
          type: 'invalid',
          text: whole,
          index: i,
          reason: rest !== '' ? `an invalid number '${shorten(whole)}'` : `a number out of range '${shorten(whole)}'`,
        });
        break;
      }
      tokens.push({ type: 'number', text: number, index: i, value });
      i += number.length;
      continue;
    }
    const alias = matchAt(ALIAS, text, i);
    if (alias !== undefined) {
      tokens.push({ type: 'alias', text: alias, index: i });
      i += alias.length;
      continue;
    }
    const identifier = matchAt(IDENTIFIER, text, i);
    if (identifier !== undefined) {
      tokens.push({ type: 'identifier', text: identifier, index: i });
      i += identifier.length;
      continue;
    }
    tokens.push({ type: 'invalid', text: c, index: i, reason: `an unexpected character ${describeCharacter(text, i)}` });
    break;
  }
  tokens.push({ type: 'end', text: '', index: text.length });
  return tokens;
}

/** How a token is named in messages: `'name'`, `the string 'x'`, `end of input`. */
export function describeToken(token: Token): string {
  switch (token.type) {
    case 'end':
      return 'end of input';
    case 'invalid':
      return token.reason;
    case 'string':
      return `the string ${shorten(token.text)}`;
    default:
      return `'${shorten(token.text)}'`;
  }
}
