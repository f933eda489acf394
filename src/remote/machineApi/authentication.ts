/**
 * Who is asking, checked before anything is read or recorded: names in the path and body, the
 * signed headers and their timestamp window, the signature, the nonce (spent in the ledger every
 * server on the store shares), the admission budgets, and that a machine acts only for itself in its
 * own group. Kept apart from the routes so every endpoint is guarded by the same two checks.
 *
 * Two kinds of callers. A registered machine signs with the key it registered: its requests
 * are checked, its nonces spent under that key, and only its own volume limits it. Everybody
 * else (a newcomer joining, a stranger, a failed signature, a replay) shares a budget per source
 * address and one for all of them together, taken before any signature is checked, so a flood
 * of self-signed requests costs a token lookup each and never reaches the registered machines.
 */
import type { FastifyRequest } from 'fastify';
import { NAME_INVALID } from '../../domain/group/errors.js';
import { nameRefusal, showName } from '../../domain/names.js';
import type { CredentialRegistry } from '../credentials.js';
import type { EngineAccess } from '../engineAccess.js';
import type { NonceLedger } from '../nonceLedger.js';
import { HEADER } from '../protocol.js';
import type { Admission } from '../rateLimit.js';
import { parseSigningKey, signingKeyThumbprint, verifyRequest } from '../signing.js';
import { MachineApiError } from './errors.js';
import { rawBodyOf } from './rawBodies.js';

/** How long past the window a nonce is kept: covers servers on one store whose clocks differ by up to a minute. */
const NONCE_SKEW_MARGIN_MS = 60_000;

export interface AuthenticationOptions {
  readonly access: EngineAccess;
  readonly registry: CredentialRegistry;
  /** Brings the registry up to date with keys registered by any server on the store. */
  readonly refreshRegistry: () => Promise<void>;
  readonly nonces: NonceLedger;
  readonly limits: Admission;
  /** How far (real ms) a request's timestamp may be from the wall clock. */
  readonly windowMs: number;
  readonly wallNow: () => number;
}

/** The key a self-signed request (a join or rejoin) brought and was verified with. */
export interface SelfSigner {
  readonly thumbprint: string;
  readonly publicKeyPem: string;
}

export interface RequestAuthentication {
  /** Signed with the machine's registered key; the path names that machine and its group. */
  readonly machineAuth: (request: FastifyRequest) => Promise<void>;
  /** Signed with the key the body brings (joins and rejoins register it). */
  readonly selfAuth: (request: FastifyRequest) => Promise<void>;
  /** The key a request that passed `selfAuth` was signed with. */
  readonly selfSigner: (request: FastifyRequest) => SelfSigner;
}

const selfSigners = new WeakMap<object, SelfSigner>();

export function requestAuthentication({ access, registry, refreshRegistry, nonces, limits, windowMs, wallNow }: AuthenticationOptions): RequestAuthentication {
  /**
   * Names in the path and the body follow the names rule before anything echoes them (the body's
   * schema, checked after authentication, then needs to say nothing about them).
   */
  const checkNames = (request: FastifyRequest) => {
    const { group, machine } = request.params as { group?: string; machine?: string };
    const body = request.body as { machine?: unknown; connection?: unknown } | undefined;
    const refusal = (group !== undefined ? nameRefusal(group, 'machine group name in the path') : null)
      ?? (machine !== undefined ? nameRefusal(machine, 'machine name in the path') : null)
      ?? (typeof body?.machine === 'string' ? nameRefusal(body.machine, 'body.machine') : null)
      ?? (typeof body?.connection === 'string' ? nameRefusal(body.connection, 'body.connection') : null);
    if (refusal !== null) throw new MachineApiError(400, NAME_INVALID, refusal);
  };

  const checkFreshness = (request: FastifyRequest) => {
    const timestamp = header(request, HEADER.timestamp);
    const nonce = header(request, HEADER.nonce);
    const signature = header(request, HEADER.signature);
    const machineHeader = header(request, HEADER.machine);
    if (!timestamp || !nonce || !signature || !machineHeader) {
      throw new MachineApiError(401, 'AUTH_REQUIRED', `the machine API needs a signed request: headers ${Object.values(HEADER).filter((h) => h !== HEADER.key).join(', ')}`);
    }
    if (!/^\d{1,15}$/.test(timestamp) || Math.abs(Number(timestamp) - wallNow()) > windowMs) {
      throw new MachineApiError(401, 'REQUEST_STALE', `request timestamp ${showName(timestamp.slice(0, 20))} is more than ${windowMs / 1000} s from the service's time; check the machine's clock`);
    }
    if (!/^[A-Za-z0-9_-]{16,64}$/.test(nonce)) throw new MachineApiError(401, 'AUTH_REQUIRED', 'request nonce must be 16 to 64 base64url characters');
    let machine: string;
    try {
      machine = decodeURIComponent(machineHeader);
    } catch {
      throw new MachineApiError(401, 'AUTH_REQUIRED', `header ${HEADER.machine} is not a URI-encoded machine name`);
    }
    const refusal = nameRefusal(machine, `machine name in header ${HEADER.machine}`);
    if (refusal !== null) throw new MachineApiError(400, NAME_INVALID, refusal);
    return { timestamp, nonce, signature, machine };
  };

  const verifySignature = (request: FastifyRequest, publicKey: Parameters<typeof verifyRequest>[0], parts: ReturnType<typeof checkFreshness>) => {
    const ok = verifyRequest(publicKey, {
      method: request.method,
      path: request.url,
      body: rawBodyOf(request),
      timestamp: parts.timestamp,
      nonce: parts.nonce,
      machine: parts.machine,
    }, parts.signature);
    if (!ok) {
      limits.charge(request);
      throw new MachineApiError(401, 'SIGNATURE_INVALID', `the request's signature does not verify with the request-signing key of machine ${parts.machine}`);
    }
  };

  /**
   * Spends the nonce under the key that signed it, in the ledger every server on the store shares
   * (only a verified request spends one, so nobody can spend another key's nonces).
   */
  const spendNonce = (request: FastifyRequest, keyThumbprint: string, parts: ReturnType<typeof checkFreshness>) => {
    if (!nonces.spend(keyThumbprint, parts.nonce, Number(parts.timestamp) + windowMs + NONCE_SKEW_MARGIN_MS)) {
      limits.charge(request);
      throw new MachineApiError(409, 'REQUEST_REPLAYED', 'this request was already received (its nonce was used); a replayed request is refused');
    }
  };

  const machineAuth = async (request: FastifyRequest) => {
    checkNames(request);
    const parts = checkFreshness(request);
    await refreshRegistry();
    const credential = registry.get(parts.machine);
    if (!credential) {
      limits.admitUnknown(request);
      throw new MachineApiError(401, 'CREDENTIAL_UNKNOWN', `machine ${parts.machine} has no registered request-signing key; join or rejoin the group first`);
    }
    verifySignature(request, credential.publicKey, parts);
    spendNonce(request, credential.keyThumbprint, parts);
    limits.admitMachine(credential.keyThumbprint, parts.machine);
    const params = request.params as { group: string; machine: string };
    if (params.machine !== credential.machine) {
      throw new MachineApiError(403, 'MACHINE_MISMATCH', `machine ${credential.machine} may not act for machine ${params.machine}`);
    }
    let memberOf = access.engine.fleet.groupOfMachine(credential.machine);
    if (memberOf !== params.group && params.group === credential.group) {
      // Another server on the store may have recorded the join a moment ago: look again.
      await access.exclusive((engine) => engine.sync());
      memberOf = access.engine.fleet.groupOfMachine(credential.machine);
    }
    if (params.group !== credential.group || memberOf !== params.group) {
      throw new MachineApiError(403, 'GROUP_MISMATCH', `machine ${credential.machine} is not a member of machine group ${params.group}`);
    }
  };

  /**
   * Signed with the key the body brings (joins and rejoins register it). A member's own registered
   * key counts as registered here too (a rejoin starts with a join-start); any other key is an
   * unknown client's, admitted within the unknown clients' budget before its signature is checked.
   */
  const selfAuth = async (request: FastifyRequest) => {
    checkNames(request);
    const parts = checkFreshness(request);
    const body = request.body as { signingKey?: unknown; machine?: unknown } | undefined;
    const named = (request.params as { machine?: string }).machine ?? body?.machine;
    if (named !== parts.machine) {
      throw new MachineApiError(403, 'MACHINE_MISMATCH', `the request is signed for machine ${parts.machine} but names machine ${showName(named)}`);
    }
    await refreshRegistry();
    const credential = registry.get(parts.machine);
    const claimed = header(request, HEADER.key);
    const registered = credential !== undefined && credential.keyThumbprint === claimed && access.engine.fleet.groupOfMachine(parts.machine) === credential.group;
    if (!registered) limits.admitUnknown(request);
    const publicKey = parseSigningKey(body?.signingKey);
    if (!publicKey) throw new MachineApiError(401, 'AUTH_REQUIRED', 'the request must carry the machine\'s request-signing key (Ed25519 SPKI PEM) as signingKey');
    const thumbprint = signingKeyThumbprint(publicKey);
    if (claimed !== thumbprint) throw new MachineApiError(401, 'SIGNATURE_INVALID', `header ${HEADER.key} does not name the signing key in the body`);
    verifySignature(request, publicKey, parts);
    spendNonce(request, thumbprint, parts);
    if (registered) limits.admitMachine(thumbprint, parts.machine);
    selfSigners.set(request, { thumbprint, publicKeyPem: body!.signingKey as string });
  };

  return { machineAuth, selfAuth, selfSigner: (request) => selfSigners.get(request)! };
}

/** A header's value; 2,048 characters hold a 100-character name URI-encoded even in a 4-byte script. */
function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return typeof value === 'string' && value.length > 0 && value.length <= 2048 ? value : undefined;
}
