/**
 * CSV (RFC 4180) in and out: fields separated by a delimiter (a comma; Excel in many European
 * locales writes a semicolon, its "Unicode Text" a tab), fields with the delimiter, a quote or a
 * line break quoted with `"` and quotes doubled. Records remember the line they start on, so a bad
 * row is reported by its line in the file. A byte order mark (Excel writes one) is skipped.
 */

export interface CsvRecord {
  /** 1-based line the record starts on. */
  readonly line: number;
  readonly cells: readonly string[];
}

export type CsvParse =
  | { readonly ok: true; readonly records: readonly CsvRecord[] }
  | { readonly ok: false; readonly line: number; readonly message: string };

export type CsvDelimiter = ',' | ';' | '\t';
const DELIMITERS: readonly CsvDelimiter[] = [',', ';', '\t'];

export interface CsvDialect {
  readonly delimiter: CsvDelimiter;
  /** Lines before the header: Excel's `sep=;` line, when present. */
  readonly skipLines: number;
}

/**
 * The delimiter of a CSV text: the one Excel's `sep=X` first line names, else the candidate
 * (comma, semicolon, tab) found most often outside quotes in the header line; a comma on a tie.
 */
export function detectDialect(input: string): CsvDialect {
  const text = input.charCodeAt(0) === 0xfeff ? input.slice(1) : input;
  const sep = /^"?sep=([,;\t])"?\r?\n/i.exec(text);
  if (sep) return { delimiter: sep[1] as CsvDelimiter, skipLines: 1 };
  const counts = new Map<CsvDelimiter, number>(DELIMITERS.map((d) => [d, 0]));
  let quoted = false;
  for (const c of text) {
    if (c === '"') quoted = !quoted;
    else if (!quoted && (c === '\n' || c === '\r')) break;
    else if (!quoted && counts.has(c as CsvDelimiter)) counts.set(c as CsvDelimiter, counts.get(c as CsvDelimiter)! + 1);
  }
  let best: CsvDelimiter = ',';
  for (const d of DELIMITERS) if (counts.get(d)! > counts.get(best)!) best = d;
  return { delimiter: best, skipLines: 0 };
}

/** `sep=;` and the like, for messages. */
export function delimiterName(delimiter: CsvDelimiter): string {
  return delimiter === ',' ? 'comma' : delimiter === ';' ? 'semicolon' : 'tab';
}

export function parseCsv(input: string, dialect: CsvDialect = { delimiter: ',', skipLines: 0 }): CsvParse {
  const d = dialect.delimiter;
  const text = input.charCodeAt(0) === 0xfeff ? input.slice(1) : input;
  const records: CsvRecord[] = [];
  let line = 1;
  let i = 0;
  for (let skipped = 0; skipped < dialect.skipLines && i < text.length; i++) {
    if (text[i] === '\n') {
      skipped++;
      line++;
    }
  }
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
        if (i < text.length && text[i] !== d && text[i] !== '\n' && text[i] !== '\r') {
          return { ok: false, line, message: `unexpected ${JSON.stringify(text[i])} after a quoted field; expected a ${delimiterName(d)} or the end of the line` };
        }
      } else {
        while (i < text.length && text[i] !== d && text[i] !== '\n' && text[i] !== '\r') {
          if (text[i] === '"') return { ok: false, line, message: 'a `"` inside an unquoted field; quote the field and double the quote' };
          cell += text[i];
          i++;
        }
      }
      cells.push(cell);
      if (text[i] === d) {
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
