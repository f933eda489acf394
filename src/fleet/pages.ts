/**
 * A Dataverse Web API answer holds at most one page (5,000 rows unless `Prefer: odata.maxpagesize`
 * says fewer); `@odata.nextLink` says more rows follow. An export saved from such an answer is a
 * part of its table, and a forecast from it would silently leave machines out. So a table whose
 * every file says more rows follow (its last page is missing), or whose files hold fewer rows than
 * the `@odata.count` they give, is incomplete: an error, unless the user accepts it (--allow-partial).
 */
import type { ImportTable } from './columns.js';
import type { ExportFile, ImportProblem } from './exportFiles.js';

export interface PartialTable {
  readonly table: ImportTable;
  readonly files: readonly string[];
  readonly reason: string;
}

/** The tables the files hold only in part, with why. */
export function partialTables(exports: readonly ExportFile[]): PartialTable[] {
  const byTable = new Map<ImportTable, ExportFile[]>();
  for (const file of exports) byTable.set(file.table, [...(byTable.get(file.table) ?? []), file]);
  const partial: PartialTable[] = [];
  for (const [table, files] of byTable) {
    const names = files.map((f) => f.file);
    const rows = files.reduce((n, f) => n + f.rowCount, 0);
    const counted = Math.max(-1, ...files.map((f) => f.count ?? -1));
    if (files.every((f) => f.nextLink !== undefined)) {
      const link = files.at(-1)!.nextLink!;
      partial.push({ table, files: names, reason: `says more rows of ${table} follow (@odata.nextLink ${shorten(link)}), but no file holds the page without a next link (the last page)` });
    } else if (counted > rows) {
      partial.push({ table, files: names, reason: `holds ${rows} rows of ${table}, but @odata.count says the table has ${counted}` });
    }
  }
  return partial;
}

export function partialProblems(partial: readonly PartialTable[]): ImportProblem[] {
  return partial.map((p) => ({
    file: p.files.join(', '),
    reason: `${p.reason}; expected every page (follow @odata.nextLink until an answer has none, or use rekey import --from URL), or --allow-partial to import the rows these files hold`,
  }));
}

function shorten(link: string): string {
  return link.length > 120 ? `${link.slice(0, 117)}...` : link;
}
