/**
 * The service's machine API: what Power Automate's machine runtime app talks to, as a fastify
 * plugin over HTTP + JSON. Register it in a fastify instance:
 *
 *   app.register(machineApi(engineAccess(engine)))
 *
 * This file wires the plugin (body parsing, errors, the scheduler's tick, closing); each group of
 * endpoints lives in machineApi/, in the file named above it below.
 *
 * Routes (all under /api/machine; see protocol.ts for the bodies, machineApi/schemas.ts for their checks):
 *   here
 *   GET  /time                                      the service's clock (public)
 *   machineApi/joinRoutes.ts
 *   POST /groups/:group/join-start                  self-signed: the group's password package, or
 *                                                   the instant a first certificate must start at
 *   POST /groups/:group/join                        self-signed + proof of possession of the group key
 *   POST /groups/:group/machines/:machine/rejoin    self-signed + proof with the regenerated password's key
 *   machineApi/sessionRoutes.ts
 *   GET  /groups/:group/machines/:machine           signed: the service's view of the machine
 *   POST /groups/:group/machines/:machine/check-in  signed: what to do (nothing, issue, take, rejoin) + runs
 *   POST /groups/:group/machines/:machine/disconnect signed: the agent is going offline
 *   machineApi/keyRoutes.ts
 *   POST /groups/:group/machines/:machine/key       signed: publish the renewal key this machine issued
 *   POST /groups/:group/machines/:machine/key/ack   signed: the new key was taken
 *   POST /groups/:group/machines/:machine/password  signed: regenerate the group password (R17)
 *   machineApi/runRoutes.ts
 *   GET  /groups/:group/machines/:machine/runs      signed: runs waiting for this machine
 *   POST /groups/:group/machines/:machine/runs/:id  signed: a run's outcome (and re-encryption)
 *   POST /groups/:group/machines/:machine/reencryptions  signed: proactive re-encryption (R14)
 *
 * Authentication (machineApi/authentication.ts): a machine registers a request-signing key
 * (Ed25519) when it joins or rejoins; the join carries it, is signed with it (self-signed), and a
 * second proof of possession of the group key vouches for it (credentialStatement). Every later
 * request is signed with it (signing.ts). The service refuses, before anything is read or recorded:
 * a name that breaks the names rule (400), requests without a valid signature (401), outside the
 * timestamp window (401), with a nonce any server on the store already saw under that key (409,
 * nonceLedger.ts), over their budget (429 with Retry-After, rateLimit.ts), for a machine other than
 * the signer (403), for a group the signer is not a member of (403), and a rejoin of a registered
 * member not signed with its registered key (403: a member can act only as itself). Errors are
 * `{"error": {"code", "message"}}` (machineApi/errors.ts).
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { toIso } from '../domain/time.js';
import { CredentialRegistry } from './credentials.js';
import type { EngineAccess } from './engineAccess.js';
import { MACHINE_API, type TimeResponse } from './protocol.js';
import { nonceLedgerFor, type NonceLedger } from './nonceLedger.js';
import { Admission, DEFAULT_ADMISSION_LIMITS, RateLimitedError, type AdmissionLimits } from './rateLimit.js';
import { RunQueue } from './runQueue.js';
import { requestAuthentication } from './machineApi/authentication.js';
import { ClockHolds } from './machineApi/clockHolds.js';
import { describeError } from './machineApi/errors.js';
import { joinRoutes } from './machineApi/joinRoutes.js';
import { keyRoutes } from './machineApi/keyRoutes.js';
import { keepRawJsonBodies } from './machineApi/rawBodies.js';
import type { RouteContext } from './machineApi/routeContext.js';
import { runRoutes } from './machineApi/runRoutes.js';
import { sessionRoutes } from './machineApi/sessionRoutes.js';

export { MachineApiError } from './machineApi/errors.js';
export { machineView } from './machineApi/machineView.js';

export interface MachineApiOptions {
  /** Where runs wait for machines; one is made when none is given (see `plugin.runs`). */
  readonly runs?: RunQueue;
  /** How far (real ms) a request's timestamp may be from the service's wall clock (default 300,000). */
  readonly requestWindowMs?: number;
  /** Real ms a test clock is held for a machine building a certificate (default 15,000). */
  readonly holdLeaseMs?: number;
  /** Real ms between scheduler ticks: due times and stale sessions (default 1,000; 0 for none). */
  readonly tickMs?: number;
  /** A connected member silent for this many of its check-in intervals is recorded as disconnected (default 3). */
  readonly staleAfterIntervals?: number;
  /** The wall clock request timestamps are checked against (default Date.now). */
  readonly wallNow?: () => number;
  /**
   * Where spent nonces are kept (default: `nonceLedgerFor` the engine's store, a file every server
   * on a SQLite store shares). A ledger passed in is not closed with the plugin.
   */
  readonly nonces?: NonceLedger;
  /** Request budgets of unknown clients and of each registered machine (default DEFAULT_ADMISSION_LIMITS). */
  readonly limits?: Partial<AdmissionLimits>;
}

export type MachineApiPlugin = FastifyPluginAsync & { readonly runs: RunQueue };

export function machineApi(access: EngineAccess, options: MachineApiOptions = {}): MachineApiPlugin {
  const runs = options.runs ?? new RunQueue(access);
  const windowMs = options.requestWindowMs ?? 300_000;
  const tickMs = options.tickMs ?? 1_000;
  const staleAfter = options.staleAfterIntervals ?? 3;
  const wallNow = options.wallNow ?? Date.now;
  const clock = access.clock;
  const registry = new CredentialRegistry(access.engine.store);
  let refreshing: Promise<void> = Promise.resolve();
  const refreshRegistry = () => (refreshing = refreshing.catch(() => undefined).then(() => registry.refresh()));
  const nonces = options.nonces ?? nonceLedgerFor(access.engine.store, wallNow);
  const limits = new Admission({ ...DEFAULT_ADMISSION_LIMITS, ...options.limits }, wallNow);
  const holds = new ClockHolds(clock, options.holdLeaseMs ?? 15_000);
  /** When each machine was last heard from, in service time. */
  const lastSeen = new Map<string, number>();
  const startedAt = clock.now();
  const auth = requestAuthentication({ access, registry, refreshRegistry, nonces, limits, windowMs, wallNow });
  const routes: RouteContext = { run: (work) => access.exclusive(work), registry, runs, clock, holds, lastSeen, auth };

  const plugin = async (app: FastifyInstance): Promise<void> => {
    keepRawJsonBodies(app);
    app.setErrorHandler((error: unknown, request: FastifyRequest, reply: FastifyReply) => {
      const { status, code, message } = describeError(error, request);
      if (status >= 500) request.log.error({ err: error }, 'machine API error');
      if (error instanceof RateLimitedError) void reply.header('retry-after', String(error.retryAfterSeconds));
      void reply.code(status).send({ error: { code, message } });
    });

    await refreshRegistry();
    const timer = tickMs > 0
      ? setInterval(() => void tick().catch((error: unknown) => app.log.error({ err: error }, 'machine API tick failed')), tickMs)
      : null;
    timer?.unref();
    app.addHook('onClose', async () => {
      if (timer) clearInterval(timer);
      holds.releaseAll();
      if (!options.nonces) nonces.close();
    });

    app.get(`${MACHINE_API}/time`, async (): Promise<TimeResponse> => ({ now: toIso(clock.now()), speed: clock.speed, held: clock.held ?? false }));
    joinRoutes(app, routes);
    sessionRoutes(app, routes);
    keyRoutes(app, routes);
    runRoutes(app, routes);
  };

  /** Due times, and sessions of members that stopped checking in (an agent killed without a word). */
  async function tick(): Promise<void> {
    await access.exclusive(async (engine) => {
      await engine.processDue();
      const now = clock.now();
      for (const slot of engine.fleet.groups.values()) {
        const state = slot.state;
        if (state.lifecycle !== 'active' && state.lifecycle !== 'expired') continue;
        for (const member of Object.values(state.members)) {
          if (!member.connected) continue;
          const seen = lastSeen.get(member.name) ?? startedAt;
          if (now - seen > staleAfter * member.checkInIntervalMinutes * 60_000) {
            await engine.disconnectMachine(state.name, member.name);
            lastSeen.delete(member.name);
          }
        }
      }
    });
  }

  return Object.assign(plugin, { runs });
}
