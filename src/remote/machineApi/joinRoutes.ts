/**
 * The endpoints by which a machine comes in: join-start (the group's password package, or the
 * instant a first certificate must start at), join, and rejoin. Each is self-signed with the
 * request-signing key it registers, vouched for by a proof with the group key.
 */
import type { FastifyInstance } from 'fastify';
import { parseCertificate, verifyProof } from '../../crypto/index.js';
import { primaryKey, type GroupState } from '../../domain/group/state.js';
import type { Engine } from '../../engine/engine.js';
import type { MachineCredential } from '../credentials.js';
import { MACHINE_API, credentialStatement, type JoinBody, type JoinStartRequest, type JoinStartResponse, type RejoinBody } from '../protocol.js';
import { MachineApiError } from './errors.js';
import { machineView } from './machineView.js';
import { params, type RouteContext } from './routeContext.js';
import { schemas } from './schemas.js';

export function joinRoutes(app: FastifyInstance, { run, registry, clock, holds, lastSeen, auth }: RouteContext): void {
  const { selfAuth } = auth;

  app.post(`${MACHINE_API}/groups/:group/join-start`, { preValidation: selfAuth, schema: { body: schemas.joinStart } }, async (request): Promise<JoinStartResponse> => {
    const { group } = params(request);
    const body = request.body as JoinStartRequest;
    return run(async (engine) => {
      await engine.processDue();
      const state = engine.group(group);
      const primary = primaryKey(state);
      let issueAt: string | null = null;
      if (!primary && state.lifecycle === 'active') issueAt = holds.holdFor(`join:${body.machine}`);
      return { group, hasKey: primary !== undefined, passwordPackage: state.passwordPackage, issueAt, validityMinutes: state.effective.validity };
    });
  });

  app.post(`${MACHINE_API}/groups/:group/join`, { preValidation: selfAuth, schema: { body: schemas.join } }, async (request) => {
    const { group } = params(request);
    const body = request.body as JoinBody;
    const key = auth.selfSigner(request);
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
        holds.release(`join:${body.machine}`);
      }
    });
  });

  app.post(`${MACHINE_API}/groups/:group/machines/:machine/rejoin`, { preValidation: selfAuth, schema: { body: schemas.rejoin } }, async (request) => {
    const { group, machine } = params(request);
    const body = request.body as RejoinBody;
    const key = auth.selfSigner(request);
    return run(async (engine) => {
      await engine.processDue();
      const state = engine.group(group);
      requireOwnIdentity(state, registry.get(machine), machine, key.thumbprint);
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
}

function requireCredentialProof(certificatePem: string | undefined, group: string, machine: string, signingKeyThumbprint: string, proof: string): void {
  if (!certificatePem || !verifyProof(certificatePem, credentialStatement(group, machine, signingKeyThumbprint), proof)) {
    throw new MachineApiError(401, 'SIGNATURE_INVALID', `machine ${machine} did not prove with the group key that the request-signing key is its own`);
  }
}

/**
 * A member can act only as itself. Every member holds the group key, so a proof with the group key
 * shows membership, not which member is speaking: a rejoin of a member that registered a
 * request-signing key must be signed with that key, or any member could register a key of its own
 * under another's name and act as it. A member that never registered one (it came in by an
 * import or a simulation) is claimed by its first rejoin.
 */
function requireOwnIdentity(state: GroupState, credential: MachineCredential | undefined, machine: string, signingKeyThumbprint: string): void {
  const member = Object.hasOwn(state.members, machine) ? state.members[machine] : undefined;
  if (!member || !credential || credential.group !== state.name || credential.machineId !== member.machineId) return;
  if (credential.keyThumbprint === signingKeyThumbprint) return;
  throw new MachineApiError(403, 'MACHINE_MISMATCH',
    `machine ${machine} of ${state.name} is registered with request-signing key ${credential.keyThumbprint}, and a rejoin must be signed with it (a member can act only as itself); ` +
    `a machine that lost its key store is removed from the group (POST /api/commands/removeMachine) and then joins again`);
}

