/**
 * The service's machine API: what Power Automate's machine runtime app talks to, as a fastify
 * plugin over HTTP + JSON. Register it in a fastify instance:
 *
 *   app.register(machineApi(engineAccess(engine)))
 *
 * Routes (all under /api/machine; see protocol.ts for the bodies):
 *   GET  /time                                      the service's clock (public)
 *   POST /groups/:group/join-start                  self-signed: the group's password package, or
 *                                                   the instant a first certificate must start at
 *   POST /groups/:group/join                        self-signed + proof of possession of the group key
 *   POST /groups/:group/machines/:machine/rejoin    self-signed + proof with the regenerated password's key
 *   GET  /groups/:group/machines/:machine           signed: the service's view of the machine
 *   POST /groups/:group/machines/:machine/check-in  signed: what to do (nothing, issue, take, rejoin) + runs
 *   POST /groups/:group/machines/:machine/key       signed: publish the renewal key this machine issued
 *   POST /groups/:group/machines/:machine/key/ack   signed: the new key was taken
 *   GET  /groups/:group/machines/:machine/runs      signed: runs waiting for this machine
 *   POST /groups/:group/machines/:machine/runs/:id  signed: a run's outcome (and re-encryption)
 *   POST /groups/:group/machines/:machine/reencryptions  signed: proactive re-encryption (R14)
 *   POST /groups/:group/machines/:machine/password  signed: regenerate the group password (R17)
 *   POST /groups/:group/machines/:machine/disconnect signed: the agent is going offline
 *
 * Authentication: a machine registers a request-signing key (Ed25519) when it joins or rejoins; the
 * join carries it, is signed with it (self-signed), and a second proof of possession of the group
 * key vouches for it (credentialStatement). Every later request is signed with it (signing.ts). The
 * service refuses requests without a valid signature (401), outside the timestamp window (401),
 * with a nonce already seen (409), for a machine other than the signer (403), and for a group the
 * signer is not a member of (403), before anything is read or recorded. Errors are
 * `{"error": {"code", "message"}}`.
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { parseCertificate, verifyProof } from '../crypto/index.js';
import type { Envelope } from '../kernel/envelope.js';
import { takesPartInRenewals } from '../domain/agentVersion.js';
import { isRekeyError } from '../kernel/errors.js';
import { keyByVersion, liveKeys, passwordRegenerationRequired, primaryKey, type GroupState, type Member } from '../domain/group/state.js';
import { toIso } from '../domain/time.js';
import type { Engine } from '../engine/engine.js';
import { CredentialRegistry } from './credentials.js';
import type { EngineAccess } from './engineAccess.js';
import {
  HEADER,
  MACHINE_API,
  credentialStatement,
  type AckKeyBody,
  type CheckInAction,
  type CheckInBody,
  type CheckInResponse,
  type JoinBody,
  type JoinStartRequest,
  type JoinStartResponse,
  type MachineView,
  type PublishKeyBody,
  type ReencryptOrder,
  type ReencryptionBody,
  type RegeneratePasswordBody,
  type RejoinBody,
  type RunReportBody,
  type TimeResponse,
} from './protocol.js';
import { RunQueue } from './runQueue.js';
import { parseSigningKey, signingKeyThumbprint, verifyRequest } from './signing.js';

/** An HTTP-level refusal of the machine API (authentication, authorization, malformed requests). */
export class MachineApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
    this.name = 'MachineApiError';
  }
}

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
}

export type MachineApiPlugin = FastifyPluginAsync & { readonly runs: RunQueue };

const MAX_BODY_BYTES = 1024 * 1024;
const MAX_NONCES = 200_000;

const rawBodies = new WeakMap<object, Buffer>();
const selfSigners = new WeakMap<object, { thumbprint: string; publicKeyPem: string }>();

export function machineApi(access: EngineAccess, options: MachineApiOptions = {}): MachineApiPlugin {
  const runs = options.runs ?? new RunQueue(access);
  const windowMs = options.requestWindowMs ?? 300_000;
  const holdLeaseMs = options.holdLeaseMs ?? 15_000;
  const tickMs = options.tickMs ?? 1_000;
  const staleAfter = options.staleAfterIntervals ?? 3;
  const wallNow = options.wallNow ?? Date.now;
  const clock = access.clock;
  const registry = new CredentialRegistry(access.engine.store);
  let refreshing: Promise<void> = Promise.resolve();
  const refreshRegistry = () => (refreshing = refreshing.catch(() => undefined).then(() => registry.refresh()));
  const nonces = new Map<string, number>();
  /** Holds of the test clock, by machine, for a certificate being built. */
  const holds = new Map<string, () => void>();
  /** When each machine was last heard from, in service time. */
  const lastSeen = new Map<string, number>();
  const startedAt = clock.now();

  const plugin = async (app: FastifyInstance): Promise<void> => {
    // The signature covers the exact bytes sent, so the body is kept as it came.
    app.removeContentTypeParser('application/json');
    app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: MAX_BODY_BYTES }, (request, body, done) => {
      const raw = body as Buffer;
      rawBodies.set(request, raw);
      if (raw.length === 0) return done(null, undefined);
      try {
        done(null, JSON.parse(raw.toString('utf8')));
      } catch {
        done(new MachineApiError(400, 'REQUEST_INVALID', 'request body is not valid JSON'), undefined);
      }
    });
    app.setErrorHandler((error: unknown, request: FastifyRequest, reply: FastifyReply) => {
      const { status, code, message } = describeError(error);
      if (status >= 500) request.log.error({ err: error }, 'machine API error');
      void reply.code(status).send({ error: { code, message } });
    });

    await refreshRegistry();
    const timer = tickMs > 0
      ? setInterval(() => void tick().catch((error: unknown) => app.log.error({ err: error }, 'machine API tick failed')), tickMs)
      : null;
    timer?.unref();
    app.addHook('onClose', async () => {
      if (timer) clearInterval(timer);
      for (const release of holds.values()) release();
      holds.clear();
    });

    // ---- authentication ------------------------------------------------------------------------

    const checkFreshness = (request: FastifyRequest) => {
      const timestamp = header(request, HEADER.timestamp);
      const nonce = header(request, HEADER.nonce);
      const signature = header(request, HEADER.signature);
      const machineHeader = header(request, HEADER.machine);
      if (!timestamp || !nonce || !signature || !machineHeader) {
        throw new MachineApiError(401, 'AUTH_REQUIRED', `the machine API needs a signed request: headers ${Object.values(HEADER).filter((h) => h !== HEADER.key).join(', ')}`);
      }
      if (!/^\d{1,15}$/.test(timestamp) || Math.abs(Number(timestamp) - wallNow()) > windowMs) {
        throw new MachineApiError(401, 'REQUEST_STALE', `request timestamp ${timestamp.slice(0, 20)} is more than ${windowMs / 1000} s from the service's time; check the machine's clock`);
      }
      if (!/^[A-Za-z0-9_-]{16,64}$/.test(nonce)) throw new MachineApiError(401, 'AUTH_REQUIRED', 'request nonce must be 16 to 64 base64url characters');
      let machine: string;
      try {
        machine = decodeURIComponent(machineHeader).slice(0, 200);
      } catch {
        throw new MachineApiError(401, 'AUTH_REQUIRED', `header ${HEADER.machine} is not a URI-encoded machine name`);
      }
      return { timestamp, nonce, signature, machine };
    };

    const verifySignature = (request: FastifyRequest, publicKey: Parameters<typeof verifyRequest>[0], parts: ReturnType<typeof checkFreshness>) => {
      const ok = verifyRequest(publicKey, {
        method: request.method,
        path: request.url,
        body: rawBodies.get(request) ?? Buffer.alloc(0),
        timestamp: parts.timestamp,
        nonce: parts.nonce,
        machine: parts.machine,
      }, parts.signature);
      if (!ok) throw new MachineApiError(401, 'SIGNATURE_INVALID', `the request's signature does not verify with the request-signing key of machine ${parts.machine}`);
      // Only a verified request spends its nonce, so nobody can spend another machine's nonces.
      purgeNonces();
      if (nonces.has(parts.nonce)) throw new MachineApiError(409, 'REQUEST_REPLAYED', 'this request was already received (its nonce was used); a replayed request is refused');
      if (nonces.size >= MAX_NONCES) throw new MachineApiError(503, 'SERVICE_BUSY', 'too many requests in the replay window; try again shortly');
      nonces.set(parts.nonce, Number(parts.timestamp) + windowMs);
    };

    let lastPurge = 0;
    const purgeNonces = () => {
      const now = wallNow();
      if (nonces.size < 1000 || now - lastPurge < 1000) return;
      lastPurge = now;
      // A nonce whose timestamp left the window can go: the request would now be refused as stale.
      for (const [nonce, until] of nonces) if (until < now) nonces.delete(nonce);
    };

    /** Signed with the machine's registered key; the path names that machine and its group. */
    const machineAuth = async (request: FastifyRequest) => {
      const parts = checkFreshness(request);
      await refreshRegistry();
      const credential = registry.get(parts.machine);
      if (!credential) throw new MachineApiError(401, 'CREDENTIAL_UNKNOWN', `machine ${parts.machine} has no registered request-signing key; join or rejoin the group first`);
      verifySignature(request, credential.publicKey, parts);
      const params = request.params as { group: string; machine: string };
      if (params.machine !== credential.machine) {
        throw new MachineApiError(403, 'MACHINE_MISMATCH', `machine ${credential.machine} may not act for machine ${params.machine}`);
      }
      const memberOf = access.engine.fleet.groupOfMachine(credential.machine);
      if (params.group !== credential.group || memberOf !== params.group) {
        throw new MachineApiError(403, 'GROUP_MISMATCH', `machine ${credential.machine} is not a member of machine group ${params.group}`);
      }
    };

    /** Signed with the key the body brings (joins and rejoins register it). */
    const selfAuth = async (request: FastifyRequest) => {
      const parts = checkFreshness(request);
      const body = request.body as { signingKey?: unknown; machine?: unknown } | undefined;
      const publicKey = parseSigningKey(body?.signingKey);
      if (!publicKey) throw new MachineApiError(401, 'AUTH_REQUIRED', 'the request must carry the machine\'s request-signing key (Ed25519 SPKI PEM) as signingKey');
      const thumbprint = signingKeyThumbprint(publicKey);
      if (header(request, HEADER.key) !== thumbprint) throw new MachineApiError(401, 'SIGNATURE_INVALID', `header ${HEADER.key} does not name the signing key in the body`);
      const named = (request.params as { machine?: string }).machine ?? body?.machine;
      if (named !== parts.machine) throw new MachineApiError(403, 'MACHINE_MISMATCH', `the request is signed for machine ${parts.machine} but names machine ${String(named)}`);
      verifySignature(request, publicKey, parts);
      selfSigners.set(request, { thumbprint, publicKeyPem: body!.signingKey as string });
    };

    const run = <T>(work: (engine: Engine) => Promise<T>) => access.exclusive(work);
    const params = (request: FastifyRequest) => request.params as { group: string; machine: string; runId?: string };

    // ---- public ---------------------------------------------------------------------------------

    app.get(`${MACHINE_API}/time`, async (): Promise<TimeResponse> => ({ now: toIso(clock.now()), speed: clock.speed, held: clock.held ?? false }));

    // ---- joining ----------------------------------------------------------------------------------

    app.post(`${MACHINE_API}/groups/:group/join-start`, { preValidation: selfAuth, schema: { body: schemas.joinStart } }, async (request): Promise<JoinStartResponse> => {
      const { group } = params(request);
      const body = request.body as JoinStartRequest;
      return run(async (engine) => {
        await engine.processDue();
        const state = engine.group(group);
        const primary = primaryKey(state);
        let issueAt: string | null = null;
        if (!primary && state.lifecycle === 'active') issueAt = holdFor(`join:${body.machine}`);
        return { group, hasKey: primary !== undefined, passwordPackage: state.passwordPackage, issueAt, validityMinutes: state.effective.validity };
      });
    });

    app.post(`${MACHINE_API}/groups/:group/join`, { preValidation: selfAuth, schema: { body: schemas.join } }, async (request) => {
      const { group } = params(request);
      const body = request.body as JoinBody;
      const key = selfSigners.get(request)!;
      return run(async (engine) => {
        try {
          await engine.processDue();
          const state = engine.group(group);
          let certificatePem: string | undefined;
          let credential: Parameters<Engine['joinMachine']>[0]['credential'];
          if (body.credential.kind === 'firstKey') {
            certificatePem = body.credential.certificatePem;
            const parsed = parseCertificate(certificatePem);
            credential = {
              kind: 'firstKey',
              certificate: { pem: certificatePem, thumbprint: parsed.thumbprint, notBefore: Date.parse(parsed.notBefore), notAfter: Date.parse(parsed.notAfter) },
              passwordPackage: body.credential.passwordPackage,
            };
          } else {
            const thumbprint = body.credential.keyThumbprint;
            certificatePem = state.keys.find((k) => k.thumbprint === thumbprint)?.certificatePem;
            credential = { kind: 'password', keyThumbprint: thumbprint };
          }
          requireCredentialProof(certificatePem, group, body.machine, key.thumbprint, body.credentialProof);
          await engine.joinMachine({ group, machineId: body.machineId, machine: body.machine, agentVersion: body.agentVersion, credential, proof: body.proof });
          await registry.register({ machineId: body.machineId, machine: body.machine, group, keyThumbprint: key.thumbprint, publicKeyPem: key.publicKeyPem }, clock.now());
          lastSeen.set(body.machine, clock.now());
          const after = engine.group(group);
          return machineView(after, after.members[body.machine]!);
        } finally {
          releaseHold(`join:${body.machine}`);
        }
      });
    });

    app.post(`${MACHINE_API}/groups/:group/machines/:machine/rejoin`, { preValidation: selfAuth, schema: { body: schemas.rejoin } }, async (request) => {
      const { group, machine } = params(request);
      const body = request.body as RejoinBody;
      const key = selfSigners.get(request)!;
      return run(async (engine) => {
        await engine.processDue();
        const state = engine.group(group);
        const certificatePem = state.keys.find((k) => k.thumbprint === body.keyThumbprint)?.certificatePem;
        requireCredentialProof(certificatePem, group, machine, key.thumbprint, body.credentialProof);
        await engine.rejoinMachine({ group, machine, agentVersion: body.agentVersion, keyThumbprint: body.keyThumbprint, proof: body.proof });
        const after = engine.group(group);
        const member = after.members[machine]!;
        await registry.register({ machineId: member.machineId, machine, group, keyThumbprint: key.thumbprint, publicKeyPem: key.publicKeyPem }, clock.now());
        lastSeen.set(machine, clock.now());
        return machineView(after, member);
      });
    });

    // ---- a member's life ---------------------------------------------------------------------------

    app.get(`${MACHINE_API}/groups/:group/machines/:machine`, { preValidation: machineAuth }, async (request) => {
      const { group, machine } = params(request);
      return run(async (engine) => {
        await engine.processDue();
        const state = engine.group(group);
        return machineView(state, requireMember(state, machine));
      });
    });

    app.post(`${MACHINE_API}/groups/:group/machines/:machine/check-in`, { preValidation: machineAuth, schema: { body: schemas.checkIn } }, async (request): Promise<CheckInResponse> => {
      const { group, machine } = params(request);
      const body = request.body as CheckInBody;
      return run(async (engine) => {
        await engine.processDue();
        let state = engine.group(group);
        let member = requireMember(state, machine);
        if (member.agentVersion !== body.agentVersion) await engine.reportAgentVersion(group, machine, body.agentVersion);
        if (!member.connected || member.checkInIntervalMinutes !== body.intervalMinutes) {
          await engine.connectMachine(group, machine, body.intervalMinutes);
        }
        lastSeen.set(machine, clock.now());
        state = engine.group(group);
        member = requireMember(state, machine);
        const action = decideAction(state, member, new Set(body.heldKeys));
        const orders = action.kind === 'rejoin' ? [] : await runs.offer(engine, machine, state);
        return { now: toIso(clock.now()), machine: machineView(engine.group(group), member), action, runs: orders, reencrypt: reencryptOrders(engine, state, member) };
      });
    });

    app.post(`${MACHINE_API}/groups/:group/machines/:machine/key`, { preValidation: machineAuth, schema: { body: schemas.publishKey } }, async (request) => {
      const { group, machine } = params(request);
      const body = request.body as PublishKeyBody;
      return run(async (engine) => {
        try {
          await engine.issueRenewalKey(group, machine, body.certificatePem, body.wrappedUnderPrevious);
        } finally {
          releaseHold(`issue:${machine}`);
        }
        const state = engine.group(group);
        return machineView(state, requireMember(state, machine));
      });
    });

    app.post(`${MACHINE_API}/groups/:group/machines/:machine/key/ack`, { preValidation: machineAuth, schema: { body: schemas.ackKey } }, async (request) => {
      const { group, machine } = params(request);
      const body = request.body as AckKeyBody;
      return run(async (engine) => {
        await engine.processDue();
        const state = engine.group(group);
        const newKey = keyByVersion(state, state.renewal?.newVersion ?? null);
        if (!newKey || newKey.thumbprint !== body.keyThumbprint) {
          throw new MachineApiError(409, 'KEY_NOT_CURRENT', `key ${body.keyThumbprint} is not the new key of a renewal in progress in ${group}`);
        }
        await engine.acceptNewKey(group, machine);
        const after = engine.group(group);
        return machineView(after, requireMember(after, machine));
      });
    });

    app.get(`${MACHINE_API}/groups/:group/machines/:machine/runs`, { preValidation: machineAuth }, async (request) => {
      const { group, machine } = params(request);
      return run(async (engine) => {
        await engine.processDue();
        const state = engine.group(group);
        return { runs: await runs.offer(engine, machine, state) };
      });
    });

    app.post(`${MACHINE_API}/groups/:group/machines/:machine/runs/:runId`, { preValidation: machineAuth, schema: { body: schemas.runReport } }, async (request) => {
      const { group, machine, runId } = params(request);
      const body = request.body as RunReportBody;
      return run(async (engine) => {
        await engine.processDue();
        const claimed = claimRun(runId!, machine);
        const connection = claimed.connection;
        if (body.outcome === 'failed') {
          if (body.reason === 'noUsableKey') await engine.recordRunFailure(connection, 'NO_USABLE_KEY', `machine ${machine} holds no live key that connection ${connection} is encrypted to`);
          else await engine.recordRunFailure(connection, 'DECRYPTION_FAILED', `machine ${machine} could not decrypt the credentials of connection ${connection} with its key`);
        } else {
          const state = engine.group(group);
          const held = heldLiveThumbprints(state, requireMember(state, machine));
          if (!held.has(body.keyThumbprint)) {
            throw new MachineApiError(409, 'KEY_NOT_HELD_BY_MACHINE', `machine ${machine} does not hold live key ${body.keyThumbprint} of ${group}`);
          }
          if (body.reencrypted && !held.has(body.reencrypted.thumbprint)) {
            throw new MachineApiError(409, 'KEY_NOT_HELD_BY_MACHINE', `machine ${machine} re-encrypted to ${body.reencrypted.thumbprint}, which is not a live key it holds`);
          }
          await engine.recordRun(connection, machine, body.keyThumbprint, body.reencrypted as Envelope | null);
        }
        runs.complete(claimed.runId);
        return { recorded: true };
      });
    });

    app.post(`${MACHINE_API}/groups/:group/machines/:machine/reencryptions`, { preValidation: machineAuth, schema: { body: schemas.reencryption } }, async (request) => {
      const { group, machine } = params(request);
      const body = request.body as ReencryptionBody;
      return run(async (engine) => {
        await engine.processDue();
        const state = engine.group(group);
        const connection = engine.connection(body.connection);
        const target = connection.target;
        if (!((target.type === 'group' && target.name === group) || (target.type === 'machine' && target.name === machine))) {
          throw new MachineApiError(403, 'GROUP_MISMATCH', `connection ${body.connection} does not target machine ${machine} or its group ${group}`);
        }
        if (!heldLiveThumbprints(state, requireMember(state, machine)).has(body.ciphertext.thumbprint)) {
          throw new MachineApiError(409, 'KEY_NOT_HELD_BY_MACHINE', `machine ${machine} re-encrypted to ${body.ciphertext.thumbprint}, which is not a live key it holds`);
        }
        const recorded = await engine.reencrypt(body.connection, machine, body.ciphertext, true);
        return { recorded: recorded.length > 0 };
      });
    });

    app.post(`${MACHINE_API}/groups/:group/machines/:machine/password`, { preValidation: machineAuth, schema: { body: schemas.password } }, async (request) => {
      const { group, machine } = params(request);
      const body = request.body as RegeneratePasswordBody;
      return run(async (engine) => {
        await engine.regeneratePassword(group, machine, body.packageThumbprint, body.passwordPackage);
        const state = engine.group(group);
        return machineView(state, requireMember(state, machine));
      });
    });

    app.post(`${MACHINE_API}/groups/:group/machines/:machine/disconnect`, { preValidation: machineAuth }, async (request) => {
      const { group, machine } = params(request);
      return run(async (engine) => {
        await engine.disconnectMachine(group, machine);
        lastSeen.delete(machine);
        return { disconnected: true };
      });
    });
  };

  // ---- helpers that need the plugin's state ------------------------------------------------------

  /** Holds the test clock for a machine building a certificate; returns "now" as the certificate must say it. */
  function holdFor(key: string): string {
    releaseHold(key);
    if (clock.hold) holds.set(key, clock.hold(holdLeaseMs));
    return toIso(Math.floor(clock.now() / 1000) * 1000);
  }

  function releaseHold(key: string): void {
    holds.get(key)?.();
    holds.delete(key);
  }

  function decideAction(state: GroupState, member: Member, held: Set<string>): CheckInAction {
    if (state.lifecycle !== 'active') return { kind: 'none' };
    if (member.status === 3) {
      return { kind: 'rejoin', reason: `machine ${member.name} missed the renewal of ${state.name} (KeyExpired); regenerate the group password on a machine that holds the new key, then rejoin with it (rekey agent --rejoin)` };
    }
    const renewal = state.renewal;
    if (!renewal || !takesPartInRenewals(member.agentVersion)) return { kind: 'none' };
    const oldKey = keyByVersion(state, renewal.oldVersion)!;
    if (!member.keyVersions.includes(renewal.oldVersion) || !held.has(oldKey.thumbprint)) return { kind: 'none' };
    if (renewal.newVersion === null) {
      return { kind: 'issue', issueAt: holdFor(`issue:${member.name}`), validityMinutes: state.effective.validity, version: oldKey.version + 1, oldKeyThumbprint: oldKey.thumbprint };
    }
    const newKey = keyByVersion(state, renewal.newVersion)!;
    if (member.keyVersions.includes(newKey.version) && held.has(newKey.thumbprint)) return { kind: 'none' };
    return { kind: 'take', key: { version: newKey.version, thumbprint: newKey.thumbprint, certificatePem: newKey.certificatePem, wrappedUnderPrevious: newKey.wrappedUnderPrevious! } };
  }

  function reencryptOrders(engine: Engine, state: GroupState, member: Member): ReencryptOrder[] {
    const renewal = state.renewal;
    if (!state.proactiveReencryption || !renewal || renewal.newVersion === null || member.status === 3) return [];
    const oldKey = keyByVersion(state, renewal.oldVersion)!;
    const newKey = keyByVersion(state, renewal.newVersion)!;
    if (!member.keyVersions.includes(oldKey.version) || !member.keyVersions.includes(newKey.version)) return [];
    const orders: ReencryptOrder[] = [];
    for (const connection of engine.fleet.connectionsTargeting(state.name, [member.name])) {
      if (connection.needsFix || connection.ciphertexts.some((c) => c.thumbprint === newKey.thumbprint)) continue;
      const old = connection.ciphertexts.find((c) => c.thumbprint === oldKey.thumbprint);
      if (old) orders.push({ connection: connection.name, ciphertext: old, newCertificate: { thumbprint: newKey.thumbprint, pem: newKey.certificatePem } });
    }
    return orders;
  }

  function claimRun(runId: string, machine: string) {
    try {
      return runs.claim(runId, machine);
    } catch (error) {
      if (isRekeyError(error)) throw new MachineApiError(404, error.code, error.message);
      throw error;
    }
  }

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

function requireCredentialProof(certificatePem: string | undefined, group: string, machine: string, signingKeyThumbprint: string, proof: string): void {
  if (!certificatePem || !verifyProof(certificatePem, credentialStatement(group, machine, signingKeyThumbprint), proof)) {
    throw new MachineApiError(401, 'SIGNATURE_INVALID', `machine ${machine} did not prove with the group key that the request-signing key is its own`);
  }
}

function requireMember(state: GroupState, machine: string): Member {
  const member = state.members[machine];
  if (!member) throw new MachineApiError(403, 'GROUP_MISMATCH', `machine ${machine} is not a member of machine group ${state.name}`);
  return member;
}

function heldLiveThumbprints(state: GroupState, member: Member): Set<string> {
  if (member.status === 3) return new Set();
  return new Set(liveKeys(state).filter((key) => member.keyVersions.includes(key.version)).map((key) => key.thumbprint));
}

export function machineView(state: GroupState, member: Member): MachineView {
  const renewal = state.renewal;
  return {
    group: state.name,
    machine: member.name,
    machineId: member.machineId,
    status: member.status,
    keyVersions: [...member.keyVersions],
    liveKeys: liveKeys(state).map((key) => ({ version: key.version, thumbprint: key.thumbprint, certificatePem: key.certificatePem, primary: key.version === state.primaryVersion })),
    groupState: state.lifecycle,
    renewal: renewal ? { oldVersion: renewal.oldVersion, newVersion: renewal.newVersion, startsAt: toIso(renewal.startsAt), endsAt: toIso(renewal.endsAt) } : null,
    passwordRegenerationRequired: passwordRegenerationRequired(state),
  };
}

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return typeof value === 'string' && value.length > 0 && value.length <= 512 ? value : undefined;
}

function describeError(error: unknown): { status: number; code: string; message: string } {
  if (error instanceof MachineApiError) return { status: error.status, code: error.code, message: error.message };
  if (isRekeyError(error)) return { status: error.httpStatus, code: error.code, message: error.message };
  const e = error as { validation?: unknown; statusCode?: number; message?: string; code?: string };
  if (e?.validation) return { status: 400, code: 'REQUEST_INVALID', message: e.message ?? 'request is invalid' };
  if (e?.statusCode === 413) return { status: 413, code: 'PAYLOAD_TOO_LARGE', message: `request body is larger than ${MAX_BODY_BYTES} bytes` };
  if (e?.statusCode === 415) return { status: 415, code: 'REQUEST_INVALID', message: 'the machine API takes application/json bodies only' };
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return { status: e.statusCode, code: 'REQUEST_INVALID', message: e.message ?? 'request is invalid' };
  }
  return { status: 500, code: 'INTERNAL', message: 'the service failed to handle the request; see its log' };
}

// ---- request bodies -----------------------------------------------------------------------------

const name = { type: 'string', minLength: 1, maxLength: 100 } as const;
const thumbprint = { type: 'string', pattern: '^[0-9A-F]{64}$' } as const;
const base64 = (max: number) => ({ type: 'string', minLength: 1, maxLength: max, pattern: '^[A-Za-z0-9+/=]+$' }) as const;
const pem = { type: 'string', minLength: 1, maxLength: 16_384 } as const;
const agentVersion = { type: 'string', minLength: 1, maxLength: 64 } as const;
const envelope = {
  type: 'object',
  additionalProperties: false,
  required: ['alg', 'thumbprint', 'encryptedKey', 'iv', 'tag', 'ciphertext'],
  properties: { alg: { const: 'RSA-OAEP-256+A256GCM' }, thumbprint, encryptedKey: base64(2048), iv: base64(64), tag: base64(64), ciphertext: base64(65_536) },
} as const;
const object = (required: string[], properties: Record<string, unknown>) => ({ type: 'object', additionalProperties: false, required, properties });
/**
 * A branch of a oneOf: no additionalProperties there, because fastify's Ajv removes additional
 * properties while it tries each branch, which would strip the fields of the next one.
 */
const variant = (required: string[], properties: Record<string, unknown>) => ({ type: 'object', required, properties });

const schemas = {
  joinStart: object(['machine', 'signingKey'], { machine: name, signingKey: pem }),
  join: object(['machine', 'machineId', 'agentVersion', 'signingKey', 'credential', 'proof', 'credentialProof'], {
    machine: name,
    machineId: { type: 'string', pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' },
    agentVersion,
    signingKey: pem,
    credential: {
      oneOf: [
        variant(['kind', 'certificatePem', 'passwordPackage'], { kind: { const: 'firstKey' }, certificatePem: pem, passwordPackage: base64(65_536) }),
        variant(['kind', 'keyThumbprint'], { kind: { const: 'password' }, keyThumbprint: thumbprint }),
      ],
    },
    proof: base64(1024),
    credentialProof: base64(1024),
  }),
  rejoin: object(['agentVersion', 'signingKey', 'keyThumbprint', 'proof', 'credentialProof'], {
    agentVersion, signingKey: pem, keyThumbprint: thumbprint, proof: base64(1024), credentialProof: base64(1024),
  }),
  checkIn: object(['agentVersion', 'intervalMinutes', 'heldKeys'], {
    agentVersion,
    intervalMinutes: { type: 'integer', minimum: 1, maximum: 525_600 },
    heldKeys: { type: 'array', maxItems: 16, items: thumbprint },
  }),
  publishKey: object(['certificatePem', 'wrappedUnderPrevious'], { certificatePem: pem, wrappedUnderPrevious: envelope }),
  ackKey: object(['keyThumbprint'], { keyThumbprint: thumbprint }),
  runReport: {
    oneOf: [
      variant(['outcome', 'keyThumbprint', 'reencrypted'], { outcome: { const: 'run' }, keyThumbprint: thumbprint, reencrypted: { oneOf: [{ type: 'null' }, envelope] } }),
      variant(['outcome', 'reason'], { outcome: { const: 'failed' }, reason: { enum: ['noUsableKey', 'decryptionFailed'] } }),
    ],
  },
  reencryption: object(['connection', 'ciphertext'], { connection: name, ciphertext: envelope }),
  password: object(['packageThumbprint', 'passwordPackage'], { packageThumbprint: thumbprint, passwordPackage: base64(65_536) }),
};
