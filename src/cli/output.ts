/**
 * How the CLI speaks: the result alone on stdout; errors as one line `rekey: CODE: message` on
 * stderr, or `{"error": {"code", "message"}}` with --json; progress only when stderr is a terminal.
 */
import { RekeyError, isRekeyError } from '../kernel/errors.js';

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function printLine(text = ''): void {
  process.stdout.write(`${text}\n`);
}

/** Prints the error the way docs/contract.md (section 4) says and returns the exit code. */
export function reportError(error: unknown, json: boolean): number {
  const rekey = isRekeyError(error)
    ? error
    : new RekeyError('INTERNAL', error instanceof Error ? error.message : String(error), {}, 'internal');
  if (json) process.stderr.write(`${JSON.stringify({ error: { code: rekey.code, message: rekey.message } })}\n`);
  else process.stderr.write(`rekey: ${rekey.code}: ${oneLine(rekey.message)}\n`);
  return rekey.exitCode;
}

/** A warning about the result (the result itself is on stdout): `rekey: warning: CODE: message`, or `{"warning": {...}}` with --json. */
export function reportWarning(warning: RekeyError, json: boolean): void {
  if (json) process.stderr.write(`${JSON.stringify({ warning: { code: warning.code, message: warning.message } })}\n`);
  else process.stderr.write(`rekey: warning: ${warning.code}: ${oneLine(warning.message)}\n`);
}

/**
 * A message on one line, as section 7 promises: a multi-line message (SCENARIO_INVALID lists one
 * problem per line, commander adds its suggestions on a line of their own) is joined with "; ".
 */
export function oneLine(message: string): string {
  return message
    .split(/\r?\n/)
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .reduce((line, part) => (line === '' ? part : line.endsWith(':') ? `${line} ${part}` : `${line}; ${part}`), '');
}

/** A one-line progress bar on stderr, drawn only for a person at a terminal. */
export function progressBar(label: string): { update(fraction: number, note?: string): void; done(): void } {
  const tty = process.stderr.isTTY === true;
  let last = -1;
  return {
    update(fraction: number, note = '') {
      if (!tty) return;
      const percent = Math.floor(Math.min(1, Math.max(0, fraction)) * 100);
      if (percent === last) return;
      last = percent;
      const width = 30;
      const filled = Math.round((percent / 100) * width);
      process.stderr.write(`\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(percent).padStart(3)}% ${note}`);
    },
    done() {
      if (tty && last >= 0) process.stderr.write('\n');
    },
  };
}

/** Columns padded to their widest cell, for people; scripts use --json. */
export function alignedTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((header, i) => Math.max(header.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
