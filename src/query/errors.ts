/**
 * Error codes of the OData query surface (docs/api.md, docs/projections.md). Every error the
 * query module raises is a RekeyError of kind 'validation' (exit 2, HTTP 400).
 */
import { RekeyError, errorKind } from '../kernel/errors.js';

/** Bad syntax in $filter, $select or $orderby; the message gives the 1-based character position. */
export const ODATA_SYNTAX = errorKind('ODATA_SYNTAX', 'validation');
/** A column that the table does not have; the message names it and lists the table's columns. */
export const ODATA_UNKNOWN_COLUMN = errorKind('ODATA_UNKNOWN_COLUMN', 'validation');
/** $top that is not a positive integer. */
export const ODATA_INVALID_TOP = errorKind('ODATA_INVALID_TOP', 'validation');
/** $count that is neither true nor false. */
export const ODATA_INVALID_COUNT = errorKind('ODATA_INVALID_COUNT', 'validation');

export type QueryOption = '$filter' | '$select' | '$orderby' | '$top' | '$count';

/** 1-based position, in characters (code points), of the UTF-16 index `index` of `text`. */
export function positionOf(text: string, index: number): number {
  let position = 1;
  for (let i = 0; i < index && i < text.length; i++) {
    const code = text.charCodeAt(i);
    // A high surrogate followed by a low one is one character.
    if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    }
    position++;
  }
  return position;
}

/** `$filter: expected X [after Y] at position N, found Z`. */
export function syntaxError(
  option: QueryOption,
  text: string,
  index: number,
  expected: string,
  found: string,
  after?: string,
): RekeyError {
  const position = positionOf(text, index);
  const afterText = after === undefined ? '' : ` after ${after}`;
  return new RekeyError(
    ODATA_SYNTAX,
    `${option}: expected ${expected}${afterText} at position ${position}, found ${found}`,
    { option, position, expected, found },
    'validation',
  );
}

/** A syntax error whose message is not of the "expected ... found ..." shape. */
export function syntaxErrorWithMessage(option: QueryOption, text: string, index: number, message: string): RekeyError {
  const position = positionOf(text, index);
  return new RekeyError(ODATA_SYNTAX, `${option}: ${message.replace('{position}', String(position))}`, { option, position }, 'validation');
}

/** `unknown column 'foo' in flowmachines; columns are: a, b, c`. */
export function unknownColumnError(
  option: QueryOption,
  column: string,
  columns: readonly string[],
  table: string | undefined,
  text: string,
  index: number,
): RekeyError {
  const where = table === undefined || table === '' ? '' : ` in ${table}`;
  return new RekeyError(
    ODATA_UNKNOWN_COLUMN,
    `unknown column '${column}'${where}; columns are: ${columns.join(', ')}`,
    { option, column, table, columns: [...columns], position: positionOf(text, index) },
    'validation',
  );
}
