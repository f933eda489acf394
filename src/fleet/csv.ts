/**
 * CSV (RFC 4180) in and out: comma-separated, fields with a comma, a quote or a line break quoted
 * with `"` and quotes doubled. Records remember the line they start on, so a bad row is reported by
 * its line in the file. A UTF-8 byte order mark (Excel writes one) is skipped.
 */

export interface CsvRecord {
  /** 1-based line the record starts on. */
  readonly line: number;
  readonly cells: readonly string[];
}

export type CsvParse =
  | { readonly ok: true; readonly records: readonly CsvRecord[] }
  | { readonly ok: false; readonly line: number; readonly message: string };

export function parseCsv(input: string): CsvParse {
  const text = input.charCodeAt(0) === 0xfeff ? input.slice(1) : input;
  const records: CsvRecord[] = [];
  let line = 1;
  let i = 0;
  while (i < text.length) {
    const startLine = line;
    const cells: string[] = [];
    for (;;) {
      let cell = '';
      if (text[i] === '"') {
        const quoteLine = line;
        i++;
        for (;;) {
          if (i >= text.length) return { ok: false, line: quoteLine, message: 'a quoted field is not closed (a `"` is missing)' };
          const c = text[i]!;
          if (c === '"') {
            if (text[i + 1] === '"') {
              cell += '"';
              i += 2;
              continue;
            }
            i++;
            break;
          }
          if (c === '\n') line++;
          cell += c;
          i++;
        }
        if (i < text.length && text[i] !== ',' && text[i] !== '\n' && text[i] !== '\r') {
          return { ok: false, line, message: `unexpected ${JSON.stringify(text[i])} after a quoted field; expected a comma or the end of the line` };
        }
      } else {
        while (i < text.length && text[i] !== ',' && text[i] !== '\n' && text[i] !== '\r') {
          if (text[i] === '"') return { ok: false, line, message: 'a `"` inside an unquoted field; quote the field and double the quote' };
          cell += text[i];
          i++;
        }
      }
      cells.push(cell);
      if (text[i] === ',') {
        i++;
        continue;
      }
      break;
    }
    if (text[i] === '\r') i++;
    if (text[i] === '\n') {
      i++;
      line++;
    }
    // Blank lines carry no record.
    if (!(cells.length === 1 && cells[0] === '')) records.push({ line: startLine, cells });
  }
  return { ok: true, records };
}

function field(value: unknown): string {
  if (value === null || value === undefined) return '';
  const text = typeof value === 'string' ? value : typeof value === 'object' ? JSON.stringify(value) : String(value);
  return /[",\r\n]/.test(text) || text !== text.trim() ? `"${text.replace(/"/g, '""')}"` : text;
}

/** Rows as CSV with the given columns (an empty cell for null), lines ending in CRLF as RFC 4180 says. */
export function toCsv(columns: readonly string[], rows: readonly Record<string, unknown>[]): string {
  const lines = [columns.map(field).join(',')];
  for (const row of rows) lines.push(columns.map((column) => field(row[column])).join(','));
  return `${lines.join('\r\n')}\r\n`;
}
