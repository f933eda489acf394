/**
 * The endpoints of a renewal's keys: publish the renewal key a member issued (R11), acknowledge the
 * new key was taken (R12), and regenerate the group password (R17). Every one is signed with the
 * member's registered key.
 */
import type { FastifyInstance } from 'fastify';
import { keyByVersion } from '../../domain/group/state.js';
import { MACHINE_API, type AckKeyBody, type PublishKeyBody, type RegeneratePasswordBody } from '../protocol.js';
import { MachineApiError } from './errors.js';
import { machineView, requireMember } from './machineView.js';
import { params, type RouteContext } from './routeContext.js';
import { schemas } from './schemas.js';

export function keyRoutes(app: FastifyInstance, { run, holds, auth }: RouteContext): void {
  const { machineAuth } = auth;

  app.post(`${MACHINE_API}/groups/:group/machines/:machine/key`, { preValidation: machineAuth, schema: { body: schemas.publishKey } }, async (request) => {
    const { group, machine } = params(request);
    const body = request.body as PublishKeyBody;
    return run(async (engine) => {
      try {
        await engine.issueRenewalKey(group, machine, body.certificatePem, body.wrappedUnderPrevious);
      } finally {
        holds.release(`issue:${machine}`);
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

  app.post(`${MACHINE_API}/groups/:group/machines/:machine/password`, { preValidation: machineAuth, schema: { body: schemas.password } }, async (request) => {
    const { group, machine } = params(request);
    const body = request.body as RegeneratePasswordBody;
    return run(async (engine) => {
      await engine.regeneratePassword(group, machine, body.packageThumbprint, body.passwordPackage);
      const state = engine.group(group);
      return machineView(state, requireMember(state, machine));
    });
  });
}
