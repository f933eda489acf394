/**
 * The endpoints of a connection's runs on a member: the runs waiting for it, a run's outcome (with
 * the re-encryption it made), and a proactive re-encryption (R14). A member reports only with keys it
 * holds, for connections that target it or its group.
 */
import type { FastifyInstance } from 'fastify';
import type { Envelope } from '../../kernel/envelope.js';
import { isRekeyError } from '../../kernel/errors.js';
import { MACHINE_API, type ReencryptionBody, type RunReportBody } from '../protocol.js';
import type { RunQueue } from '../runQueue.js';
import { MachineApiError } from './errors.js';
import { heldLiveThumbprints, requireMember } from './machineView.js';
import { params, type RouteContext } from './routeContext.js';
import { schemas } from './schemas.js';

export function runRoutes(app: FastifyInstance, { run, runs, auth }: RouteContext): void {
  const { machineAuth } = auth;

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
      const claimed = claimRun(runs, runId!, machine);
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
}

function claimRun(runs: RunQueue, runId: string, machine: string) {
  try {
    return runs.claim(runId, machine);
  } catch (error) {
    if (isRekeyError(error)) throw new MachineApiError(404, error.code, error.message);
    throw error;
  }
}
