import type { Command } from 'commander';
import { createServer, DEFAULT_HOST, DEFAULT_PORT } from '../../api/index.js';
import { parseInteger } from '../arguments.js';
import { printLine } from '../output.js';
import { dbFile, openStore, withStoreOptions } from '../storeOptions.js';

interface ServeOptions {
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
      .option('--host <address>', `address to listen on (default ${DEFAULT_HOST}; anything else exposes the API to the network)`),
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
      const store = await openStore(options, { mustExist: false });
      try {
        const server = await createServer({ store, host, port });
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
