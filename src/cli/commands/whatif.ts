import type { Command } from 'commander';
import { loadHabitsFile, NO_HABITS } from '../../fleet/habits.js';
import { forecastKeys } from '../../fleet/forecast.js';
import { parseSet, whatIf, type Difference } from '../../fleet/whatif.js';
import { ARGUMENT_INVALID, RekeyError } from '../../kernel/errors.js';
import { parseInstantArgument } from '../arguments.js';
import { alignedTable, printJson, printLine } from '../output.js';
import { openStore, withStoreOptions } from '../storeOptions.js';

interface WhatIfCliOptions {
  set?: string[];
  until?: string;
  habits?: string;
  json?: boolean;
  db?: string;
  eventstore?: string;
}

export function whatifCommand(program: Command): void {
  withStoreOptions(
    program
      .command('whatif')
      .description('the forecast with changed settings (keyValidityPeriod, keyExpiryGracePeriod) beside the baseline')
      .option('--set <change>', 'group=NAME,SETTING=MINUTES (repeatable; applied in order, validated by R1/R2)', (value: string, previous: string[] = []) => [...previous, value])
      .option('--until <instant>', 'simulate up to this instant (default: the end of the last next renewal window)')
      .option('--habits <file>', 'machine online habits, as for rekey forecast')
      .option('--json', 'print {"baseline": forecast, "whatif": forecast, "differences": [{"group", "field", "baseline", "whatif"}]}'),
  )
    .addHelpText('after', `
The changes are recorded at the head of the log in a private copy (picked up 1,440 minutes later,
R4); nothing is written to the store.

Examples:
  rekey whatif --set group=Finance,keyExpiryGracePeriod=64800 --db /tmp/fleet.db
  rekey whatif --set group=HR,keyValidityPeriod=525600 --set group=Finance,keyExpiryGracePeriod=129600 --json --db /tmp/fleet.db`)
    .action(async (options: WhatIfCliOptions) => {
      if (!options.set || options.set.length === 0) {
        throw new RekeyError(ARGUMENT_INVALID, 'give at least one --set group=NAME,SETTING=MINUTES', { option: '--set' }, 'validation');
      }
      const changes = options.set.flatMap(parseSet);
      const until = options.until === undefined ? undefined : parseInstantArgument('--until', options.until);
      const habits = options.habits === undefined ? NO_HABITS : loadHabitsFile(options.habits);
      const store = await openStore(options, { mustExist: true });
      try {
        const result = await whatIf(store, changes, { keys: forecastKeys(), habits, until });
        if (options.json) {
          printJson(result);
          return;
        }
        printLine(`what if ${changes.map((c) => `${c.group}.${c.setting} = ${c.minutes}`).join(', ')} (recorded at ${result.whatif.from})`);
        printLine();
        const differs = new Set(result.differences.map((d) => `${d.group}\u0000${d.field}`));
        const rows: string[][] = [];
        const all = [...new Set([...result.baseline.groups, ...result.whatif.groups].map((g) => g.name))].sort();
        const groups = all.filter((name) => result.differences.some((d) => d.group === name));
        const unchanged = all.filter((name) => !groups.includes(name));
        for (const name of groups) {
          const a = result.baseline.groups.find((g) => g.name === name);
          const b = result.whatif.groups.find((g) => g.name === name);
          const fields: [string, (g: NonNullable<typeof a>) => string][] = [
            ['keyValidityPeriod', (g) => String(g.keyValidityPeriod)],
            ['keyExpiryGracePeriod', (g) => String(g.keyExpiryGracePeriod)],
            ['renewalStart', (g) => g.renewalStart],
            ['renewalEnd', (g) => g.renewalEnd],
            ['verdict', (g) => g.verdict],
            ['willMiss', (g) => g.willMiss.map((m) => m.machine).join(', ') || '-'],
            ['connectionsToFix', (g) => g.connectionsToFix.join(', ') || '-'],
          ];
          for (const [field, show] of fields) {
            const mark = differs.has(`${name}\u0000${field}`) ? '*' : '';
            rows.push([mark, name, field, a ? show(a) : '-', b ? show(b) : '-']);
          }
        }
        if (rows.length > 0) printLine(alignedTable(['', 'group', 'field', 'baseline', 'what-if'], rows));
        printLine();
        printLine(result.differences.length === 0 ? 'no differences' : `${result.differences.length} differences (marked *)`);
        if (unchanged.length > 0) printLine(`unchanged: ${unchanged.join(', ')}`);
        const todo = result.whatif.groups.filter((g) => result.differences.some((d: Difference) => d.group === g.name));
        for (const g of todo) {
          if (g.todo.length === 0) continue;
          printLine();
          printLine(`${g.name} with the change: ${g.verdict}`);
          for (const t of g.todo) printLine(`  todo by ${t.by}: ${t.what}`);
        }
      } finally {
        await store.close();
      }
    });
}
