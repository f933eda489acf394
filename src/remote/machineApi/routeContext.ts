/**
 * What every group of routes shares with the plugin: the one-at-a-time way to the engine, the
 * registry of request-signing keys, the run queue, the clock and its holds, when each machine was
 * last heard from, and the two authentication checks. One object, so a route file asks for nothing else.
 */
import type { FastifyRequest } from 'fastify';
import type { Engine } from '../../engine/engine.js';
import type { ServiceClock } from '../clock.js';
import type { CredentialRegistry } from '../credentials.js';
import type { RunQueue } from '../runQueue.js';
import type { RequestAuthentication } from './authentication.js';
import type { ClockHolds } from './clockHolds.js';

export interface RouteContext {
  /** Runs the work alone, in arrival order (see engineAccess.ts). */
  readonly run: <T>(work: (engine: Engine) => Promise<T>) => Promise<T>;
  readonly registry: CredentialRegistry;
  readonly runs: RunQueue;
  readonly clock: ServiceClock;
  readonly holds: ClockHolds;
  /** When each machine was last heard from, in service time. */
  readonly lastSeen: Map<string, number>;
  readonly auth: RequestAuthentication;
}

export const params = (request: FastifyRequest) => request.params as { group: string; machine: string; runId?: string };
