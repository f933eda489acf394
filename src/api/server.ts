/**
 * The HTTP service of rekey (`rekey serve`, docs/api.md): admin commands, the tables through
 * the Dataverse Web API's query surface with time travel, row history, the change feed as server-sent
 * events, webhook subscriptions, reminders, Prometheus metrics, and the dashboard at `/`.
 *
 * - Listens on 127.0.0.1 unless told otherwise. While bound to a loopback address it answers only
 *   requests addressed by an exact loopback name or a configured one (Host header, src/api/hostCheck.ts),
 *   so a web page cannot reach it through DNS rebinding; a POST or DELETE whose Origin is another site
 *   is refused (no CORS, no CSRF).
 * - Bearer tokens with roles guard every route but the public ones (src/api/auth/access.ts); beyond
 *   loopback it refuses to start without an active token. `tls` serves HTTPS.
 * - The read side is a read model following the store live; a command answers once the tables show
 *   its events.
 * - The clock never runs behind the log (src/api/clock.ts); a scheduler records due times (renewal
 *   starts, retirements, settings pickups) every `schedulerIntervalMs`, level-triggered.
 * - `close()` ends the change streams, stops the webhooks and the scheduler, closes the read model; the
 *   store stays open (it is the caller's).
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { join, dirname, basename } from 'node:path';
import { openReadModel } from '../../projections/index.js';
import type { Clock } from '../domain/time.js';
import { Engine } from '../engine/engine.js';
import { randomIds } from '../engine/ids.js';
import type { EventStore } from '../store/port.js';
import { installAccessControl, requireTokensBeyondLoopback } from './auth/access.js';
import { tokenVerifier } from './auth/tokenVerifier.js';
import { logClock, systemClock } from './clock.js';
import { createContext, type ApiContext } from './context.js';
import { dashboardPage } from './dashboard/page.js';
import { errorBody, errorHandler, invalid, RESOURCE_NOT_FOUND } from './errors.js';
import { failureLogger } from './failureLogger.js';
import { hostCheck, isLoopbackAddress } from './hostCheck.js';
import { createMetrics } from './metrics.js';
import { listenError } from './portInUse.js';
import { adminRoutes } from './routes/admin.js';
import { changeRoutes, type ChangeStreamOptions } from './routes/changes.js';
import { commandRoutes } from './routes/commands.js';
import { odataRoutes } from './routes/odata.js';
import { opsRoutes } from './routes/ops.js';
import { readRoutes } from './routes/read.js';
import { subscriptionRoutes } from './routes/subscriptions.js';
import { WebhookManager, type WebhookOptions } from './webhooks.js';

export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_PORT = 8080;

export interface ServerOptions {
  readonly store: EventStore;
  /** Where "now" comes from for commands (default: the wall clock); never behind the log. */
  readonly clock?: Clock;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default 8080; 0 picks a free port (see `url`). */
  readonly port?: number;
  /** The read model's file (default: `<db>.read.db` beside a SQLite store). */
  readonly readModelFile?: string;
  /** R4 pickup delay for settings changes made through the API (default 1,440). */
  readonly pickupDelayMinutes?: number;
  /** How often due times are recorded (default 60,000 ms; 0 turns the scheduler off). */
  readonly schedulerIntervalMs?: number;
  readonly webhooks?: WebhookOptions;
  /**
   * More routes on the same server (for instance the machine API of src/remote), registered after
   * rekey's own and before it listens. They get the same error handling and loopback Host check.
   */
  readonly extend?: (app: FastifyInstance, context: ApiContext) => void | Promise<void>;
  /** Where the server reports failures of its background work (default: stderr). */
  readonly onBackgroundError?: (error: unknown) => void;
  /**
   * The auth file with the accepted tokens' hashes (src/api/auth/tokenRegistry.ts). Default: `<db>.auth.json`
   * beside a SQLite store; for another store, no file (open on loopback, refused beyond it).
   */
  readonly authFile?: string;
  /** More host names the Host check accepts (besides localhost, 127.0.0.1, [::1] and the bound address). */
  readonly allowedHosts?: readonly string[];
  /** Limits and timing of the change feed's server-sent event streams (src/api/routes/changes.ts). */
  readonly changeStreams?: ChangeStreamOptions;
  /** Serve HTTPS with this certificate chain and private key (PEM). */
  readonly tls?: { readonly cert: string | Buffer; readonly key: string | Buffer };
  /** Where every answer of 500 and up is reported, one line each (default: stderr). */
  readonly onRequestFailure?: (line: string) => void;
}

/** The auth file beside a SQLite store: `<db>.auth.json`. */
export function defaultAuthFile(dbFile: string): string {
  return join(dirname(dbFile), `${basename(dbFile)}.auth.json`);
}

export interface RekeyServer {
  /** `http://host:port`, with the port actually bound. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly app: FastifyInstance;
  readonly context: ApiContext;
  close(): Promise<void>;
}

const FAVICON = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><rect width="24" height="24" rx="5" fill="#17253a"/>' +
  '<circle cx="8" cy="12" r="4" fill="none" stroke="#f5a623" stroke-width="2.4"/><path d="M12 12h8M17 12v3.5M20 12v3" fill="none" stroke="#f5a623" stroke-width="2.4" stroke-linecap="round"/></svg>';

/** How long a stopping server waits for busy connections before it cuts them. */
const CLOSE_GRACE_MS = 5_000;

function sameOrigin(origin: string, host: string | undefined): boolean {
  try {
    return host !== undefined && new URL(origin).host === host;
  } catch {
    return false;
  }
}

/** Builds the server and starts listening. */
export async function createServer(options: ServerOptions): Promise<RekeyServer> {
  const host = options.host ?? DEFAULT_HOST;
  const port = options.port ?? DEFAULT_PORT;
  const reportBackground = options.onBackgroundError ?? ((error: unknown) => process.stderr.write(`rekey serve: ${error instanceof Error ? error.message : String(error)}\n`));
  const reportFailure = options.onRequestFailure ?? ((line: string) => process.stderr.write(`${line}\n`));
  const store = options.store;
  const loopback = isLoopbackAddress(host);
  const storeFile = 'file' in store && typeof store.file === 'string' && store.file !== ':memory:' ? store.file : undefined;
  const verifier = tokenVerifier(options.authFile ?? (storeFile === undefined ? undefined : defaultAuthFile(storeFile)));
  requireTokensBeyondLoopback(host, loopback, verifier);
  const clock = await logClock(store, options.clock ?? systemClock());
  const engine = await Engine.open({ store, clock, ids: randomIds(), ...(options.pickupDelayMinutes !== undefined ? { pickupDelayMinutes: options.pickupDelayMinutes } : {}) });
  const readModel = openReadModel({
    store,
    ...(options.readModelFile !== undefined ? { file: options.readModelFile } : {}),
    snapshotEvery: 1000,
    // Each failure of the live read model is one line; it starts again at the next read or command.
    onError: (error) => reportBackground(new Error(`the read model stopped following the log (it restarts at the next request): ${error.code}: ${error.message}`)),
  });
  try {
    await readModel.start();
  } catch (error) {
    await readModel.close();
    clock.stop();
    throw error;
  }
  const ctx = createContext({ store, engine, readModel, clock });
  const metrics = createMetrics(ctx);
  const webhooks = new WebhookManager(readModel, options.webhooks, {
    onAttempt: (outcome) => metrics.webhookAttempts.inc({ outcome }),
    onDelivery: (outcome) => metrics.webhookDeliveries.inc({ outcome }),
  });

  const app = Fastify({
    loggerInstance: failureLogger(reportFailure),
    ...(options.tls ? { https: { cert: options.tls.cert, key: options.tls.key } } : {}),
    bodyLimit: 1024 * 1024,
    // Bodies are checked as sent: no silent removal of unknown fields, no type coercion.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false, allErrors: false, allowUnionTypes: true } },
  });
  app.setErrorHandler(errorHandler((line) => reportFailure(line)));
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send(errorBody(RESOURCE_NOT_FOUND, `no resource at ${request.method} ${request.url.split('?')[0]!.slice(0, 200)}; see docs/api.md`));
  });
  const hosts = hostCheck(host, options.allowedHosts);
  app.addHook('onRequest', async (request, reply) => {
    void reply.header('x-content-type-options', 'nosniff');
    if (hosts && !hosts.accepts(request.headers.host)) {
      throw invalid(`this server listens on ${host} and answers only requests addressed to ${hosts.names.join(', ')} (Host header); add a name with --allow-host`, {});
    }
    // A browser names the page that sent a request: a command from another site's page is refused.
    const origin = request.headers.origin;
    if (request.method !== 'GET' && request.method !== 'HEAD' && origin !== undefined && !sameOrigin(origin, request.headers.host)) {
      throw invalid('cross-origin requests cannot change anything here; send commands from the dashboard\'s own origin or without an Origin header', {});
    }
  });

  installAccessControl(app, { verifier, loopback });

  const page = dashboardPage();
  app.get('/', async (_request, reply) => {
    void reply
      .header('content-type', 'text/html; charset=utf-8')
      .header('content-security-policy', page.contentSecurityPolicy)
      .header('cache-control', 'no-cache');
    return page.html;
  });
  app.get('/favicon.ico', async (_request, reply) => {
    void reply.header('content-type', 'image/svg+xml').header('cache-control', 'max-age=86400');
    return FAVICON;
  });
  opsRoutes(app, ctx, metrics);
  commandRoutes(app, ctx);
  adminRoutes(app, ctx);
  odataRoutes(app, ctx);
  readRoutes(app, ctx);
  const changeStreams = changeRoutes(app, ctx, options.changeStreams);
  subscriptionRoutes(app, webhooks);

  try {
    if (options.extend) await options.extend(app, ctx);
    await app.listen({ host, port });
  } catch (error) {
    changeStreams.close();
    webhooks.close();
    await readModel.close();
    clock.stop();
    throw listenError(error, host, port);
  }
  const address = app.server.address();
  const boundPort = typeof address === 'object' && address !== null ? address.port : port;
  const urlHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  const scheme = options.tls ? 'https' : 'http';

  const intervalMs = options.schedulerIntervalMs ?? 60_000;
  const scheduler = intervalMs > 0
    ? setInterval(() => void ctx.serialize(() => engine.processDue()).catch(reportBackground), intervalMs)
    : null;
  scheduler?.unref();

  let closing: Promise<void> | null = null;
  return {
    url: `${scheme}://${urlHost}:${boundPort}`,
    host,
    port: boundPort,
    app,
    context: ctx,
    close() {
      closing ??= (async () => {
        if (scheduler) clearInterval(scheduler);
        changeStreams.close();
        webhooks.close();
        // Idle connections close at once; one still busy after the grace period (a client that
        // stopped reading, a request stuck in a proxy) is cut, so that a stop never hangs.
        const cut = setTimeout(() => app.server.closeAllConnections(), CLOSE_GRACE_MS);
        cut.unref();
        await app.close();
        clearTimeout(cut);
        await ctx.serialize(async () => undefined); // let a command under way finish
        await readModel.close();
        clock.stop();
      })();
      return closing;
    },
  };
}
