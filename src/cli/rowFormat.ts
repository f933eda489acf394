/** Rows for people: the formatted value of a choice column when there is one, else the raw value. */
import { FORMATTED, type Row } from '../../projections/index.js';

export function cell(row: Row, column: string): string {
  const formatted = row[`${column}${FORMATTED}`];
  const value = formatted ?? row[column];
  if (value === null || value === undefined) return '';
  return Array.isArray(value) ? value.join(' ') : String(value);
}

export function columnsOf(rows: readonly Row[], fallback: readonly string[]): string[] {
  const first = rows[0];
  if (!first) return [...fallback];
  return Object.keys(first).filter((key) => !key.includes('@'));
}
