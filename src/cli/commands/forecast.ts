import type { Command } from 'commander';
import { forecast, forecastKeys, type Forecast } from '../../fleet/forecast.js';
import { loadHabitsFile, NO_HABITS } from '../../fleet/habits.js';
import { parseInstantArgument } from '../arguments.js';
import { alignedTable, printJson, printLine } from '../output.js';
import { openStore, withStoreOptions } from '../storeOptions.js';

interface ForecastCliOptions {
  until?: string;
  habits?: string;
  json?: boolean;
  db?: string;
  eventstore?: string;
}

export function forecastCommand(program: Command): void {
  withStoreOptions(
    program
      .command('forecast')
      .description("simulate forward from the head of the log through each group's next renewal window: who will miss it, what to do by when")
      .option('--until <instant>', 'simulate up to this instant (default: the end of the last group\'s next renewal window)')
      .option('--habits <file>', 'when machines are online: JSON from machine names or glob patterns to "always", "offline", "officeHours", {"daysPerMonth": N}, {"offlineUntil": ISO}, {"intervals": [{"from", "to"}]}')
      .option('--json', 'print {"from", "groups": [{"name", "renewalStart", "renewalEnd", "willMiss", "connectionsToFix", "verdict", "todo"}], ...}'),
  )
    .addHelpText('after', `
Without a habits entry, a machine whose lastheartbeatdate is more than 10,080 minutes before the
start is assumed offline, any other always online. No connection runs in a forecast. The simulated
machines hold stand-in keys: the forecast is about timing and who misses, not about real credentials.

Examples:
  rekey forecast --db /tmp/fleet.db
  rekey forecast --habits examples/export/habits.json --json --db /tmp/fleet.db`)
    .action(async (options: ForecastCliOptions) => {
      const until = options.until === undefined ? undefined : parseInstantArgument('--until', options.until);
      const habits = options.habits === undefined ? NO_HABITS : loadHabitsFile(options.habits);
      const store = await openStore(options, { mustExist: true });
      try {
        const result = await forecast(store, { keys: forecastKeys(), habits, until });
        if (options.json) printJson(result);
        else printForecast(result);
      } finally {
        await store.close();
      }
    });
}

export function printForecast(result: Forecast): void {
  printLine(`forecast from ${result.from} until ${result.until}`);
  printLine();
  printLine(alignedTable(
    ['group', 'renewal window', 'verdict', 'will miss', 'connections to fix'],
    result.groups.map((g) => [g.name, `${g.renewalStart} .. ${g.renewalEnd}`, g.verdict, g.willMiss.map((m) => m.machine).join(', ') || '-', g.connectionsToFix.join(', ') || '-']),
  ));
  for (const g of result.groups) {
    if (g.willMiss.length === 0 && g.todo.length === 0 && g.expiresBecause === null) continue;
    printLine();
    printLine(`${g.name}: ${g.verdict}${g.newKeyIssuedBy ? ` (new key issued by ${g.newKeyIssuedBy} at ${g.newKeyIssuedAt})` : ''}`);
    if (g.expiresBecause) printLine(`  expires: ${g.expiresBecause}`);
    for (const m of g.willMiss) printLine(`  misses: ${m.machine}: ${m.reason}`);
    for (const t of g.todo) printLine(`  todo by ${t.by}: ${t.what}`);
  }
  for (const s of result.skipped) printLine(`\n${s.name}: no forecast: ${s.reason}`);
  printLine();
  printLine('habits assumed:');
  printLine(alignedTable(['machine', 'habit', 'source'], result.habits.map((h) => [h.machine, h.habit, h.source])));
}
