/** How the admin commands print their results for people (scripts use --json). */
import type { Row } from '../../projections/index.js';
import type { DryRun } from '../admin/dryRun.js';
import { describeEvent } from '../admin/eventView.js';
import type { AdminResult } from '../admin/target.js';
import { alignedTable, printJson, printLine } from './output.js';
import { cell } from './rowFormat.js';

function value(row: Row | null, column: string): string {
  if (!row) return '-';
  const text = cell(row, column);
  return text === '' ? '(empty)' : text;
}

export function printDryRun(report: DryRun, target: string): void {
  printLine(`dry run on ${target} at ${report.at}: nothing was written (the log stays at position ${report.position})`);
  if (report.dueEvents.length > 0) {
    printLine();
    printLine('due first (the scheduler records these anyway before any command):');
    for (const event of report.dueEvents) printLine(describeEvent(event));
  }
  printLine();
  if (report.events.length === 0) printLine('would append no event (the command changes nothing)');
  else {
    printLine(`would append ${report.events.length} event${report.events.length === 1 ? '' : 's'}:`);
    for (const event of report.events) printLine(describeEvent(event));
  }
  printLine();
  if (report.changes.length === 0) printLine('no row would change');
  else {
    printLine(`rows that would change (${report.changes.length}):`);
    for (const change of report.changes) {
      printLine(`  ${change.table} ${change.name}: ${change.changeType}`);
      if (change.changeType === 'Update') {
        printLine(alignedTable(['    column', 'now', 'after'], change.changedColumns.map((column) => [`    ${column}`, value(change.before, column), value(change.after, column)])).split('\n').filter((_, i) => i !== 1).join('\n'));
      }
    }
  }
  const forecast = report.forecast;
  if (forecast === null) return;
  printLine();
  if (forecast.skipped) {
    printLine(`forecast: none (${forecast.skipped})`);
    return;
  }
  if (forecast.differences.length === 0) {
    printLine('forecast of the next renewal windows: no difference');
  } else {
    printLine('forecast of the next renewal windows, now and after:');
    printLine(alignedTable(['group', 'field', 'now', 'after'], forecast.differences.map((d) => [d.group, d.field, show(d.baseline), show(d.whatif)])));
  }
  const atRisk = forecast.after.filter((g) => g.willMiss.length > 0 || g.connectionsToFix.length > 0);
  for (const group of atRisk) {
    printLine(`  ${group.name} (${group.renewalStart} .. ${group.renewalEnd}, ${group.verdict}): ${group.willMiss.length > 0 ? `would miss the renewal: ${group.willMiss.join(', ')}` : 'no machine would miss it'}; ${group.connectionsToFix.length > 0 ? `connections to fix after it: ${group.connectionsToFix.join(', ')}` : 'no connection to fix'}`);
  }
}

function show(value: unknown): string {
  if (value === null || value === undefined) return '-';
  if (Array.isArray(value)) return value.length === 0 ? '-' : value.join(', ');
  return String(value);
}

export function printResult(result: AdminResult | DryRun, target: string, json: boolean | undefined): void {
  if (json) {
    printJson(result);
    return;
  }
  if (result.dryRun) {
    printDryRun(result, target);
    return;
  }
  if (result.events.length === 0) printLine(`nothing to record: ${target} already shows it (log position ${result.position})`);
  else {
    printLine(`recorded ${result.events.length} event${result.events.length === 1 ? '' : 's'} in ${target} (log position ${result.position}):`);
    for (const event of result.events) printLine(describeEvent(event));
  }
  for (const run of result.queuedRuns ?? []) printLine(`run ${run.runId} of ${run.connection} is queued: the first machine of its target that holds a key it is encrypted to takes it (watch with rekey history desktopflowconnections ${run.connection})`);
}

/** One row as `column  value` lines, formatted values beside the codes of choice columns. */
export function rowCard(row: Row): string {
  const columns = Object.keys(row).filter((key) => !key.includes('@'));
  return alignedTable(['column', 'value'], columns.map((column) => {
    const raw = row[column];
    const formatted = cell(row, column);
    const both = row[`${column}@OData.Community.Display.V1.FormattedValue`] !== undefined ? `${String(raw)} (${formatted})` : formatted;
    return [column, both === '' ? '(empty)' : both];
  }));
}
