import type { Command } from 'commander';
import { createServer, DEFAULT_HOST, DEFAULT_PORT } from '../../api/index.js';
import { DEFAULT_ADMISSION_LIMITS, engineAccess, machineApi, serviceClockFromOptions } from '../../remote/index.js';
import { readFileSync } from 'node:fs';
import { isLoopbackAddress } from '../../api/hostCheck.js';
import { RekeyError } from '../../kernel/errors.js';
import { runConnectionRoute } from '../../api/routes/runConnection.js';
import { parseInstantArgument, parseInteger } from '../arguments.js';
import { authFileOf, withAuthFileOption } from '../authFileOption.js';
import { incompleteSimulation } from '../../simulation/runMarkers.js';
import { printLine, reportWarning } from '../output.js';
import { dbFile, openStore, withStoreOptions } from '../storeOptions.js';

interface ServeOptions {
  testClock?: boolean;
  clockSpeed?: string;
  clockStart?: string;
  port?: string;
  host?: string;
  create?: boolean;
  db?: string;
  eventstore?: string;
  authFile?: string;
  tlsCert?: string;
  tlsKey?: string;
  allowHost?: string[];
  maxChangeStreams?: string;
  unregisteredRate?: string;
  unregisteredRatePerAddress?: string;
}

function readPem(option: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new RekeyError('ARGUMENT_INVALID', `${option} ${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); give a PEM file`, { option }, 'validation');
  }
}

function tlsOf(options: ServeOptions): { cert: Buffer; key: Buffer } | undefined {
  if ((options.tlsCert === undefined) !== (options.tlsKey === undefined)) {
    throw new RekeyError('ARGUMENT_INVALID', `--tls-cert and --tls-key go together: give both (the certificate chain and its private key, PEM) or neither`, {}, 'validation');
  }
  return options.tlsCert === undefined ? undefined : { cert: readPem('--tls-cert', options.tlsCert), key: readPem('--tls-key', options.tlsKey!) };
}

export function serveCommand(program: Command): void {
  withAuthFileOption(withStoreOptions(
    program
      .command('serve')
      .description('the HTTP API (commands, OData queries under /api/data/v9.2, change feed, webhooks, /metrics) and the dashboard at /')
      .option('--port <n>', `port to listen on, 0 for any free one (default $PORT or ${DEFAULT_PORT})`)
      .option('--host <address>', `address to listen on (default ${DEFAULT_HOST}; anything else exposes the API to the network)`)
      .option('--test-clock', 'run a test clock instead of the wall clock (refused when NODE_ENV=production)')
      .option('--clock-speed <n>', 'with --test-clock: simulated seconds per real second, to watch a renewal live')
      .option('--clock-start <instant>', 'with --test-clock: the instant the clock starts at')
      .option('--tls-cert <file>', 'serve HTTPS with this certificate chain (PEM); needs --tls-key')
      .option('--tls-key <file>', 'the private key (PEM) of --tls-cert')
      .option('--allow-host <name...>', 'more names the Host check accepts besides localhost, 127.0.0.1 and [::1]')
      .option('--max-change-streams <n>', 'change-feed connections open at once (default 1000; more are refused with 503)')
      .option('--unregistered-rate <n>', `machine API: requests per second from clients without a registered key (joins), all together; bursts of 4 times that (default ${DEFAULT_ADMISSION_LIMITS.unknownOverall.perSecond})`)
      .option('--unregistered-rate-per-address <n>', `machine API: the same, per source address (default ${DEFAULT_ADMISSION_LIMITS.unknownPerAddress.perSecond})`)
      .option('--create', 'create the embedded store file when it does not exist yet (without it, a missing --db file is refused as a mistyped path)'),
  ))
    .addHelpText('after', `
Prints the URL on stdout and runs until SIGINT or SIGTERM (Ctrl+C), then closes cleanly.

Tokens: with no token in the auth file, a server on 127.0.0.1 answers everyone on this machine; once
'rekey token create' has made one, every API request needs 'Authorization: Bearer <token>'. Listening
beyond loopback (--host 0.0.0.0) is refused until an active token exists; give --tls-cert/--tls-key too.

Examples:
  rekey serve --db /tmp/healthy.db
  rekey serve --db /srv/rekey.db --host 0.0.0.0 --tls-cert /etc/rekey/cert.pem --tls-key /etc/rekey/key.pem
  rekey serve --db ./data/fleet.db --create --port 8081
  curl -s 'http://127.0.0.1:8080/api/data/v9.2/flowmachines?$filter=keydeliverystatus%20eq%202&$select=name,lastheartbeatdate'
  curl -s -X POST http://127.0.0.1:8080/api/commands/setKeyExpiryGracePeriod -H 'content-type: application/json' -d '{"group":"Finance","minutes":64800}'

See docs/api.md for every endpoint.`)
    .action(async (options: ServeOptions) => {
      const envPort = process.env.PORT === undefined || process.env.PORT === '' ? undefined : parseInteger('PORT', process.env.PORT, 0, 65535);
      const port = options.port === undefined ? envPort ?? DEFAULT_PORT : parseInteger('--port', options.port, 0, 65535);
      const host = options.host ?? DEFAULT_HOST;
      const clock = serviceClockFromOptions({
        testClock: options.testClock,
        clockSpeed: options.clockSpeed === undefined ? undefined : parseInteger('--clock-speed', options.clockSpeed, 1, 10_000_000),
        clockStart: options.clockStart === undefined ? undefined : parseInstantArgument('--clock-start', options.clockStart),
      });
      const tls = tlsOf(options);
      const authFile = authFileOf(options, false);
      const maxChangeStreams = options.maxChangeStreams === undefined ? undefined : parseInteger('--max-change-streams', options.maxChangeStreams, 1, 100_000);
      const rate = (option: string, text: string | undefined) => {
        if (text === undefined) return undefined;
        const perSecond = parseInteger(option, text, 1, 100_000);
        return { perSecond, burst: 4 * perSecond };
      };
      const overall = rate('--unregistered-rate', options.unregisteredRate);
      const perAddress = rate('--unregistered-rate-per-address', options.unregisteredRatePerAddress);
      const limits = { ...(overall ? { unknownOverall: overall } : {}), ...(perAddress ? { unknownPerAddress: perAddress } : {}) };
      const store = await openStore(options, { mustExist: options.create !== true, hint: 'add --create to start a new store there' });
      try {
        // The machine API (issue 9) shares the engine and its command lock with the admin API.
        const server = await createServer({
          store,
          host,
          port,
          ...(authFile !== undefined ? { authFile } : {}),
          ...(tls ? { tls } : {}),
          ...(options.allowHost ? { allowedHosts: options.allowHost } : {}),
          ...(maxChangeStreams !== undefined ? { changeStreams: { maxConnections: maxChangeStreams } } : {}),
          ...(options.testClock ? { clock } : {}),
          extend: async (app, ctx) => {
            const machines = machineApi(engineAccess(ctx.engine, { clock, serialize: ctx.serialize }), { limits });
            await app.register(machines);
            runConnectionRoute(app, machines.runs, ctx.store);
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
        if (!tls && !isLoopbackAddress(host)) process.stderr.write(`rekey: warning: serving plain HTTP on ${host}: bearer tokens cross the network in the clear; give --tls-cert and --tls-key\n`);
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
