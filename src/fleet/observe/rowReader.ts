/**
 * Reading one cell of an export row by what it must hold (an id, a name, an instant, minutes, a
 * choice code, a version, ...): each reader either returns the value or records a problem that
 * names the file, the line or index, the column, the bad value and what was expected.
 */
import { parseAgentVersion } from '../../domain/agentVersion.js';
import { isRekeyError } from '../../kernel/errors.js';
import { NAME_RULE, nameProblem } from '../../domain/names.js';
import type { Instant } from '../../domain/time.js';
import { choiceCode, choiceList, type ImportTable } from '../columns.js';
import { exampleInstant, exampleNumber, parseExportInstant, parseMinutes } from '../localeValues.js';
import { readPublicKeyCell, type PublicKeyCell } from '../publicKeyCell.js';
import type { ExportRow, ImportProblem } from '../exportFiles.js';

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const MAX_TEXT = 1000;

export class RowReader {
  readonly problems: ImportProblem[] = [];
  constructor(private readonly row: ExportRow, private readonly table: ImportTable) {}

  private add(column: string | undefined, reason: string): undefined {
    const { file, line, index } = this.row;
    this.problems.push({ file, ...(line !== undefined ? { line } : {}), ...(index !== undefined ? { index } : {}), ...(column !== undefined ? { column } : {}), reason });
    return undefined;
  }

  problem(column: string | undefined, reason: string): void {
    this.add(column, reason);
  }

  has(column: string): boolean {
    return this.row.cells.has(column);
  }

  private raw(column: string): unknown {
    const value = this.row.cells.get(column);
    return value === undefined ? null : value;
  }

  /** A present, non-null cell: else a problem "is missing/empty". */
  private present(column: string, expected: string): unknown {
    if (!this.row.cells.has(column)) return this.add(column, `is missing; expected ${expected}`);
    const value = this.raw(column);
    if (value === null) return this.add(column, `is empty; expected ${expected}`);
    return value;
  }

  id(column: string): string | undefined {
    const value = this.present(column, 'an id (letters, digits, ".", "_" or "-")');
    if (value === undefined) return undefined;
    const text = typeof value === 'string' ? value.replace(/^\{(.*)\}$/, '$1') : undefined;
    if (text === undefined || !ID_PATTERN.test(text)) return this.add(column, `${show(value)} is not an id; expected 1 to 100 letters, digits, ".", "_" or "-"`);
    return text;
  }

  name(column: string): string | undefined {
    const value = this.present(column, `a name (${NAME_RULE})`);
    if (value === undefined) return undefined;
    const problem = typeof value === 'string' ? nameProblem(value) : 'it is not text';
    if (problem !== null) return this.add(column, `${show(value)} is not a valid name: ${problem}; expected ${NAME_RULE}`);
    return value as string;
  }

  text(column: string, required: boolean): string | null | undefined {
    const value = required ? this.present(column, 'text') : this.raw(column);
    if (value === undefined) return undefined;
    if (value === null) return null;
    if (typeof value !== 'string' || value.length > MAX_TEXT) return this.add(column, `${show(value)} is not text of at most ${MAX_TEXT} characters`);
    return value;
  }

  /** primarypublickey / secondarypublickey: a thumbprint, certificate or public key (publicKeyCell.ts). */
  publicKey(column: string): Extract<PublicKeyCell, { ok: true }> | null | undefined {
    const value = this.raw(column);
    if (value === null) return null;
    if (typeof value !== 'string') return this.add(column, `${show(value)} is not text; expected a thumbprint, a certificate or a public key`);
    const cell = readPublicKeyCell(value);
    if (!cell.ok) return this.add(column, `${show(value)} ${cell.reason}`);
    return cell;
  }

  instant(column: string, required: boolean): Instant | null | undefined {
    const { locale, timeZone } = this.row.format;
    const expected = `an instant: ISO-8601 such as 2030-06-01T18:30:00Z or 2030-06-01 18:30:00, or a date as ${locale} writes it, such as ${JSON.stringify(exampleInstant(locale))}${timeZone === 'UTC' ? '' : ` (in ${timeZone})`}`;
    const value = required ? this.present(column, expected) : this.raw(column);
    if (value === undefined) return undefined;
    if (value === null) return null;
    const at = typeof value === 'string' ? parseExportInstant(value, this.row.format) : undefined;
    if (at === undefined) return this.add(column, `${show(value)} is not ${expected}`);
    return at;
  }

  minutes(column: string, check: (minutes: number) => number): number | undefined {
    const locale = this.row.format.locale;
    const expected = `a whole number of minutes (such as ${exampleNumber(locale)} in ${locale}, or "365 days")`;
    const value = this.present(column, expected);
    if (value === undefined) return undefined;
    const number = typeof value === 'number' ? value : typeof value === 'string' ? parseMinutes(value, locale) ?? Number.NaN : Number.NaN;
    if (!Number.isSafeInteger(number)) return this.add(column, `${show(value)} is not ${expected}`);
    try {
      return check(number);
    } catch (error) {
      if (!isRekeyError(error)) throw error;
      return this.add(column, error.message);
    }
  }

  choice(column: string): number | null | undefined {
    const value = this.raw(column);
    if (value === null) return null;
    const code = choiceCode(this.table, column, value);
    if (code === undefined) return this.add(column, `${show(value)} is not a choice code of ${this.table}.${column}; expected ${choiceList(this.table, column)}`);
    return code;
  }

  boolean(column: string): boolean | null | undefined {
    const value = this.raw(column);
    if (value === null) return null;
    if (typeof value === 'boolean') return value;
    if (typeof value === 'string' && /^(true|false)$/i.test(value.trim())) return value.trim().toLowerCase() === 'true';
    return this.add(column, `${show(value)} is not a boolean; expected true or false`);
  }

  oneOf<T extends string>(column: string, values: readonly T[], required: boolean): T | null | undefined {
    const value = required ? this.present(column, values.join(' or ')) : this.raw(column);
    if (value === undefined) return undefined;
    if (value === null) return null;
    const found = values.find((v) => typeof value === 'string' && v.toLowerCase() === value.trim().toLowerCase());
    if (found === undefined) return this.add(column, `${show(value)} is not one of ${values.map((v) => JSON.stringify(v)).join(', ')}`);
    return found;
  }

  version(column: string): string | undefined {
    const value = this.present(column, 'a dotted version such as 2.23.116.23040');
    if (value === undefined) return undefined;
    try {
      parseAgentVersion(value);
      return value as string;
    } catch (error) {
      if (!isRekeyError(error)) throw error;
      return this.add(column, error.message);
    }
  }

  thumbprints(column: string): string[] | undefined {
    const value = this.raw(column);
    if (value === null) return [];
    const list = Array.isArray(value) ? value : typeof value === 'string' ? value.split(/[,;\s]+/).filter((t) => t !== '') : undefined;
    if (list === undefined || list.some((t) => typeof t !== 'string' || t.length === 0 || t.length > 200)) {
      return this.add(column, `${show(value)} is not a list of thumbprints; expected them comma-separated`);
    }
    return list as string[];
  }
}

/** A value read from a row, with the row it came from (its problems are reported against it). */
export interface Located<T> {
  readonly row: ExportRow;
  readonly value: T;
}

/** What every table's reading shares: the instants seen (the default import instant) and where a row's problems go. */
export interface RowChecks {
  readonly instants: Instant[];
  note(reader: RowReader, row: ExportRow): void;
}

/** A cell's value as a problem shows it: quoted, control and format characters escaped, long ones cut. */
export function show(value: unknown): string {
  // JSON escapes C0 controls but leaves C1 controls, format characters (bidirectional overrides)
  // and line separators as they are; escaped too, none of them reaches the terminal.
  const text = (JSON.stringify(value) ?? String(value)).replace(/[\p{Cc}\p{Cf}\u2028\u2029]/gu, (c) => {
    const code = c.codePointAt(0)!;
    return code > 0xffff ? `\\u{${code.toString(16)}}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
  return text.length > 60 ? `${text.slice(0, 40)}... (${text.length} characters)` : text;
}
