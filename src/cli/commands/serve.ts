import type { Command } from 'commander';
import { createServer, DEFAULT_HOST, DEFAULT_PORT } from '../../api/index.js';
import { engineAccess, machineApi, serviceClockFromOptions } from '../../remote/index.js';
import { parseInstantArgument, parseInteger } from '../arguments.js';
import { incompleteSimulation } from '../../simulation/runMarkers.js';
import { printLine, reportWarning } from '../output.js';
import { dbFile, openStore, withStoreOptions } from '../storeOptions.js';

interface ServeOptions {
  testClock?: boolean;
  clockSpeed?: string;
  clockStart?: string;
  port?: string;
  host?: string;
  db?: string;
  eventstore?: string;
}

export function serveCommand(program: Command): void {
  withStoreOptions(
    program
      .command('serve')
      .description('the HTTP API (commands, OData queries under /api/data/v9.2, change feed, webhooks, /metrics) and the dashboard at /')
      .option('--port <n>', `port to listen on, 0 for any free one (default ${DEFAULT_PORT})`)
      .option('--host <address>', `address to listen on (default ${DEFAULT_HOST}; anything else exposes the API to the network)`)
      .option('--test-clock', 'run a test clock instead of the wall clock (refused when NODE_ENV=production)')
      .option('--clock-speed <n>', 'with --test-clock: simulated seconds per real second, to watch a renewal live')
      .option('--clock-start <instant>', 'with --test-clock: the instant the clock starts at'),
  )
    .addHelpText('after', `
Prints the URL on stdout and runs until SIGINT or SIGTERM (Ctrl+C), then closes cleanly.

Examples:
  rekey serve --db /tmp/healthy.db
  curl -s 'http://127.0.0.1:8080/api/data/v9.2/flowmachines?$filter=keydeliverystatus%20eq%202&$select=name,lastheartbeatdate'
  curl -s -X POST http://127.0.0.1:8080/api/commands/setKeyExpiryGracePeriod -H 'content-type: application/json' -d '{"group":"Finance","minutes":64800}'

See docs/api.md for every endpoint.`)
    .action(async (options: ServeOptions) => {
      const port = options.port === undefined ? DEFAULT_PORT : parseInteger('--port', options.port, 0, 65535);
      const host = options.host ?? DEFAULT_HOST;
      const clock = serviceClockFromOptions({
        testClock: options.testClock,
        clockSpeed: options.clockSpeed === undefined ? undefined : parseInteger('--clock-speed', options.clockSpeed, 1, 10_000_000),
        clockStart: options.clockStart === undefined ? undefined : parseInstantArgument('--clock-start', options.clockStart),
      });
      const store = await openStore(options, { mustExist: false });
      try {
        // The machine API (issue 9) shares the engine and its command lock with the admin API.
        const server = await createServer({
          store,
          host,
          port,
          ...(options.testClock ? { clock } : {}),
          extend: async (app, ctx) => {
            await app.register(machineApi(engineAccess(ctx.engine, { clock, serialize: ctx.serialize })));
          },
        });
        // Listen for the signals before the URL is out: whoever reads it may stop the server at once.
        const stopped = new Promise<void>((resolve) => {
          const stop = () => {
            process.off('SIGINT', stop);
            process.off('SIGTERM', stop);
            resolve();
          };
          process.on('SIGINT', stop);
          process.on('SIGTERM', stop);
        });
        const events = await store.headPosition();
        const incomplete = await incompleteSimulation(store);
        if (incomplete) reportWarning(incomplete, false);
        const source = (options.eventstore ?? (process.env.REKEY_EVENTSTORE || undefined))?.replace(/\/\/[^@/]*@/, '//***@') ?? dbFile(options);
        process.stderr.write(`rekey: serving ${source} (${events} events) at ${server.url}/ ; Ctrl+C stops\n`);
        printLine(`${server.url}/`);
        await stopped;
        await server.close();
        process.stderr.write('rekey: server stopped\n');
      } finally {
        await store.close();
      }
    });
}
