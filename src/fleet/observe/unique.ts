/**
 * Ids and names are unique per table across every file of the export: a repeat is reported with
 * where the first one was, and the repeating row left out.
 */
import type { ExportRow, ImportProblem } from '../exportFiles.js';
import { show, type Located } from './rowReader.js';

/** Reports every row whose key repeats an earlier row's (across files), and marks it bad. */
export function unique<T>(items: readonly Located<T>[], key: (value: T) => string, column: string, what: string, problems: ImportProblem[], badRows: Set<ExportRow>): void {
  const first = new Map<string, ExportRow>();
  for (const item of items) {
    const value = key(item.value);
    const earlier = first.get(value);
    if (earlier === undefined) {
      first.set(value, item.row);
      continue;
    }
    const where = earlier.line !== undefined ? `${earlier.file} line ${earlier.line}` : `${earlier.file} value[${earlier.index}]`;
    problems.push({
      file: item.row.file,
      ...(item.row.line !== undefined ? { line: item.row.line } : {}),
      ...(item.row.index !== undefined ? { index: item.row.index } : {}),
      column,
      reason: `duplicate ${what} ${show(value)}, already at ${where}; expected each row once`,
    });
    badRows.add(item.row);
  }
}
