import type { Command } from 'commander';
import { openReadModel } from '../../../projections/index.js';
import { parseInstantArgument } from '../arguments.js';
import { printJson, printLine, progressBar } from '../output.js';
import { openStore, withStoreOptions } from '../storeOptions.js';

export function replayCommand(program: Command): void {
  withStoreOptions(
    program
      .command('replay')
      .description('rebuild every table from the log, from position 1 (the read model is derived data: nothing is lost)')
      .option('--until <instant>', 'stop after the last event that occurred at or before this instant')
      .option('--json', 'print {"position", "instant", "events", "seconds"}'),
  )
    .addHelpText('after', `
Examples:
  rekey replay --db /tmp/healthy.db
  rekey replay --until 2031-01-01T00:00:00Z`)
    .action(async (options: { until?: string; json?: boolean; db?: string; eventstore?: string }) => {
      const until = options.until === undefined ? undefined : parseInstantArgument('--until', options.until);
      const store = await openStore(options, { mustExist: true });
      const readModel = openReadModel({ store });
      const bar = progressBar('replaying');
      const started = performance.now();
      try {
        const checkpoint = await readModel.rebuild({
          until,
          onProgress: ({ position, head }) => bar.update(head === 0 ? 1 : position / head, `${position}/${head} events`),
        });
        bar.done();
        const seconds = (performance.now() - started) / 1000;
        const instant = checkpoint.instant === null ? null : new Date(checkpoint.instant).toISOString();
        if (options.json) printJson({ position: checkpoint.position, instant, events: checkpoint.position, seconds });
        else printLine(`rebuilt the tables from ${checkpoint.position} events (up to ${instant ?? 'the start'}) into ${readModel.file} in ${seconds.toFixed(1)} s`);
      } finally {
        await readModel.close();
        await store.close();
      }
    });
}
