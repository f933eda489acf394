/**
 * The endpoints of a member's session: its view of itself, the check-in (what to do next, runs
 * waiting, re-encryptions to make) and the disconnect. Every one is signed with the member's
 * registered key.
 */
import type { FastifyInstance } from 'fastify';
import { toIso } from '../../domain/time.js';
import { MACHINE_API, type CheckInBody, type CheckInResponse } from '../protocol.js';
import { decideAction, reencryptOrders } from './checkInAction.js';
import { machineView, requireMember } from './machineView.js';
import { params, type RouteContext } from './routeContext.js';
import { schemas } from './schemas.js';

export function sessionRoutes(app: FastifyInstance, { run, runs, clock, holds, lastSeen, auth }: RouteContext): void {
  const { machineAuth } = auth;

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
      const action = decideAction(state, member, new Set(body.heldKeys), (key) => holds.holdFor(key));
      const orders = action.kind === 'rejoin' ? [] : await runs.offer(engine, machine, state);
      return { now: toIso(clock.now()), machine: machineView(engine.group(group), member), action, runs: orders, reencrypt: reencryptOrders(engine, state, member) };
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
}
