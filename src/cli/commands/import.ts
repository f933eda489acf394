import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { ARGUMENT_INVALID, RekeyError } from '../../kernel/errors.js';
import { DEFAULT_PULL_PAGE_SIZE, pullTables, type PullProgress } from '../../fleet/dataverseClient.js';
import { readExportValue, type ExportFile, type ReadOptions } from '../../fleet/exportFiles.js';
import { importFleet, importInvalid, observeExports, readFleet, type ImportOptions } from '../../fleet/importer.js';
import { canonicalLocale, isTimeZone } from '../../fleet/localeValues.js';
import { parseInstantArgument, parseInteger } from '../arguments.js';
import { alignedTable, printJson, printLine, progressBar } from '../output.js';
import { openStore, withStoreOptions } from '../storeOptions.js';

/** The environment variable that may hold the Web API bearer token for --from. */
export const DATAVERSE_TOKEN_ENV = 'REKEY_DATAVERSE_TOKEN';

interface ImportCliOptions {
  asOf?: string;
  skipBad?: boolean;
  allowPartial?: boolean;
  locale?: string;
  timeZone?: string;
  from?: string;
  tokenFile?: string;
  pageSize?: string;
  json?: boolean;
  db?: string;
  eventstore?: string;
}

export function importCommand(program: Command): void {
  withStoreOptions(
    program
      .command('import')
      .argument('[files...]', 'Dataverse exports: Web API JSON {"value": [...]}, or CSV as Export to Excel or Excel write it (logical or display names)')
      .description('load flowmachinegroups and flowmachines (and desktopflowconnections) from export files or a live Web API into a new or empty store, as the state observed at one instant')
      .option('--from <url>', 'read the tables from a Dataverse-compatible Web API instead of files (https://org.crm.dynamics.com/api/data/v9.2, or a rekey serve address)')
      .option('--token-file <file>', `file holding the bearer token for --from (default: $${DATAVERSE_TOKEN_ENV}); never printed`)
      .option('--page-size <n>', `rows per page asked of --from with Prefer: odata.maxpagesize (1 to 5000, default ${DEFAULT_PULL_PAGE_SIZE})`)
      .option('--as-of <instant>', 'the instant the exports show (default: the latest instant found in them); any instant is accepted')
      .option('--locale <tag>', 'BCP 47 locale of localized dates and numbers in CSV files, e.g. en-GB or de-DE (default: inferred from each file, else en-US)')
      .option('--time-zone <zone>', 'IANA time zone of dates written without a zone, e.g. Europe/Paris (default: UTC)')
      .option('--skip-bad', 'import the good rows and report the bad ones (without it, any bad row imports nothing)')
      .option('--allow-partial', 'import a table even when some of its pages are missing (@odata.nextLink without its page)')
      .option('--json', 'print {"observedAt", "files", "groups", "machines", "connections", "ignoredMachines", "events", "skipped", "partial"}'),
  )
    .addHelpText('after', `
The history before the import instant is unknown, and the audit log says so (rekey events --stream import).
rekey never holds the private keys of imported groups; a forecast gives its simulated machines stand-in keys.
Columns rekey does not read (Dataverse's system columns, annotations) are ignored and listed.

Examples:
  rekey import examples/export/flowmachinegroups.json examples/export/flowmachines.json --db /tmp/fleet.db
  rekey import "Flow Machine Groups.csv" "Flow Machines.csv" --locale de-DE --time-zone Europe/Berlin --db /tmp/fleet.db
  rekey import groups.csv machines.csv --as-of 2030-06-01T00:00:00Z --skip-bad --db /tmp/fleet.db
  ${DATAVERSE_TOKEN_ENV}=... rekey import --from https://contoso.crm.dynamics.com/api/data/v9.2 --db /tmp/fleet.db`)
    .action(async (files: string[], options: ImportCliOptions) => {
      const importOptions: ImportOptions = {
        ...(options.asOf !== undefined ? { asOf: parseInstantArgument('--as-of', options.asOf) } : {}),
        ...readOptions(options),
        skipBad: options.skipBad === true,
        allowPartial: options.allowPartial === true,
      };
      let fleet;
      if (options.from !== undefined) {
        if (files.length > 0) throw argument(`--from reads the tables from ${options.from}; give either --from or files (${files.length} given), not both`);
        fleet = observeExports(await pull(options, importOptions), importOptions);
      } else {
        if (files.length === 0) throw argument('no export files given; expected FILE... or --from URL (see rekey import --help)');
        if (options.tokenFile !== undefined || options.pageSize !== undefined) throw argument('--token-file and --page-size go with --from URL');
        fleet = readFleet(files, importOptions);
      }
      const store = await openStore(options, { mustExist: false });
      try {
        const report = await importFleet(store, fleet);
        if (options.json) {
          printJson(report);
          return;
        }
        printLine(`imported ${report.groups} machine groups, ${report.machines} machines and ${report.connections} connections observed at ${report.observedAt} (${report.events} events; history before that instant unknown)`);
        printLine();
        printLine(alignedTable(['file', 'table', 'rows', 'imported', 'skipped', 'read as'], report.files.map((f) => [f.file, f.table, String(f.rows), String(f.imported), String(f.skipped), readAs(f)])));
        const ignored = report.files.filter((f) => f.ignoredColumns.length > 0);
        if (ignored.length > 0) {
          printLine('\nignored columns (rekey does not read them):');
          for (const f of ignored) printLine(`  ${f.file}: ${f.ignoredColumns.join(', ')}`);
        }
        if (report.ignoredMachines.length > 0) printLine(`\nnot imported (in no machine group): ${report.ignoredMachines.join(', ')}`);
        for (const p of report.partial) printLine(`\npartial (--allow-partial): ${p.files.join(', ')} ${p.reason}`);
        if (report.skipped.length > 0) {
          printLine('\nskipped:');
          for (const problem of report.skipped) printLine(`  ${problem.where}: ${problem.reason}`);
        }
      } finally {
        await store.close();
      }
    });
}

function argument(message: string): RekeyError {
  return new RekeyError(ARGUMENT_INVALID, message, {}, 'validation');
}

function readOptions(options: ImportCliOptions): ReadOptions {
  const out: { locale?: string; timeZone?: string } = {};
  if (options.locale !== undefined) {
    const locale = canonicalLocale(options.locale);
    if (locale === undefined) throw argument(`--locale ${JSON.stringify(options.locale.slice(0, 50))} is not a locale this Node.js knows; expected a BCP 47 tag such as en-US, en-GB, de-DE or fr-FR`);
    out.locale = locale;
  }
  if (options.timeZone !== undefined) {
    if (!isTimeZone(options.timeZone)) throw argument(`--time-zone ${JSON.stringify(options.timeZone.slice(0, 50))} is not an IANA time zone; expected e.g. UTC, Europe/Paris or America/New_York`);
    out.timeZone = options.timeZone;
  }
  return out;
}

function readAs(file: { encoding: string; delimiter?: string; locale: string; localeSource: string }): string {
  const parts = [file.encoding];
  if (file.delimiter !== undefined) parts.push(`"${file.delimiter}"-separated`);
  if (file.delimiter !== undefined) parts.push(`${file.locale} (${file.localeSource})`);
  return parts.join(', ');
}

/** The token: --token-file's first line, else the environment; never echoed anywhere. */
function token(options: ImportCliOptions): string | undefined {
  if (options.tokenFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(options.tokenFile, 'utf8');
    } catch (error) {
      throw argument(`--token-file ${options.tokenFile} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'}); expected a file holding the bearer token`);
    }
    const value = text.split(/\r?\n/)[0]!.trim();
    if (value === '') throw argument(`--token-file ${options.tokenFile} is empty; expected the bearer token on its first line`);
    return value;
  }
  const fromEnv = process.env[DATAVERSE_TOKEN_ENV]?.trim();
  return fromEnv === undefined || fromEnv === '' ? undefined : fromEnv;
}

async function pull(options: ImportCliOptions, read: ReadOptions): Promise<ExportFile[]> {
  const pageSize = options.pageSize === undefined ? undefined : parseInteger('--page-size', options.pageSize, 1, 5000);
  const bars = new Map<string, ReturnType<typeof progressBar>>();
  const onProgress = (p: PullProgress) => {
    let bar = bars.get(p.table);
    if (bar === undefined) {
      for (const other of bars.values()) other.done();
      bar = progressBar(`reading ${p.table}`);
      bars.set(p.table, bar);
    }
    bar.update(p.total ? p.rows / p.total : 1, `page ${p.page}, ${p.rows}${p.total !== undefined ? ` of ${p.total}` : ''} rows`);
  };
  const secret = token(options);
  let result;
  try {
    result = await pullTables({ url: options.from!, ...(secret !== undefined ? { token: secret } : {}), ...(pageSize !== undefined ? { pageSize } : {}), onProgress });
  } finally {
    for (const bar of bars.values()) bar.done();
  }
  const exports: ExportFile[] = [];
  const problems = [];
  for (const page of result.pages) {
    const read1 = readExportValue(page.name, page.body, read);
    if (read1.ok) exports.push(read1.export);
    else problems.push(read1.problem);
  }
  if (problems.length > 0) throw importInvalid(problems, 'cannot be imported');
  return exports;
}
