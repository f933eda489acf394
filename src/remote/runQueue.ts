/**
 * Desktop flow runs waiting for a machine. Someone (the portal, an admin command, a test) asks for
 * a run of a connection; the service hands it to the first machine of the connection's target that
 * asks for work and holds a live key the credentials are encrypted to. The machine decrypts them
 * locally, runs, re-encrypts to a live key the connection lacks (R14) and reports back. A run handed
 * out and not reported within its lease goes back to the queue.
 *
 * The queue lives in the service's memory: a run asked for just before a restart is asked again.
 */
import { randomUUID } from 'node:crypto';
import { RekeyError } from '../kernel/errors.js';
import type { ConnectionState } from '../domain/connection/state.js';
import type { GroupState } from '../domain/group/state.js';
import type { Engine } from '../engine/engine.js';
import type { EngineAccess } from './engineAccess.js';
import type { RunOrder } from './protocol.js';

export interface RunRequest {
  readonly runId: string;
  readonly connection: string;
  assignedTo: string | null;
  /** Real time (ms) until which the assigned machine has it. */
  leaseUntil: number;
}

export interface RunQueueOptions {
  /** Real milliseconds a machine has to report a run it took (default 60 s). */
  readonly leaseMs?: number;
}

export class RunQueue {
  private readonly requests = new Map<string, RunRequest>();
  private readonly leaseMs: number;

  constructor(private readonly access: EngineAccess, options: RunQueueOptions = {}) {
    this.leaseMs = options.leaseMs ?? 60_000;
  }

  /**
   * Asks for one run of the connection. A connection that needs fixing cannot run: that is recorded
   * as a failed run at once (as the simulator does) and no run is queued (runId null).
   */
  request(connection: string): Promise<{ runId: string | null }> {
    return this.access.exclusive(async (engine) => {
      await engine.processDue();
      const state = engine.connection(connection); // CONNECTION_UNKNOWN
      if (state.needsFix) {
        await engine.recordRunFailure(connection, 'CONNECTION_NEEDS_FIX', `desktop flow connection ${connection} needs fixing (Fix connection)`);
        return { runId: null };
      }
      const runId = randomUUID();
      this.requests.set(runId, { runId, connection, assignedTo: null, leaseUntil: 0 });
      return { runId };
    });
  }

  /** Runs not yet reported. */
  pending(): RunRequest[] {
    return [...this.requests.values()];
  }

  /** Hands the machine every waiting run it can do; call inside `exclusive`. */
  async offer(engine: Engine, machine: string, group: GroupState): Promise<RunOrder[]> {
    const orders: RunOrder[] = [];
    const member = group.members[machine];
    if (!member || member.status === 3) return orders;
    const held = new Set(group.keys.filter((key) => member.keyVersions.includes(key.version) && !key.retired).map((key) => key.thumbprint));
    const nowMs = Date.now();
    for (const request of this.requests.values()) {
      if (request.assignedTo !== null && request.leaseUntil > nowMs) continue;
      const connection = engine.fleet.connection(request.connection);
      if (!connection || !connection.exists) {
        this.requests.delete(request.runId);
        continue;
      }
      if (!targets(connection, group.name, machine)) continue;
      if (connection.needsFix) {
        this.requests.delete(request.runId);
        await engine.recordRunFailure(request.connection, 'CONNECTION_NEEDS_FIX', `desktop flow connection ${request.connection} needs fixing (Fix connection)`);
        continue;
      }
      if (!connection.ciphertexts.some((c) => held.has(c.thumbprint))) continue;
      request.assignedTo = machine;
      request.leaseUntil = nowMs + this.leaseMs;
      orders.push({
        runId: request.runId,
        connection: request.connection,
        ciphertexts: [...connection.ciphertexts],
        liveCertificates: engine.liveCertificates(connection.target).map((c) => ({ thumbprint: c.thumbprint, pem: c.pem })),
      });
    }
    return orders;
  }

  /** The run the machine was handed; RUN_NOT_ASSIGNED for any other. */
  claim(runId: string, machine: string): RunRequest {
    const request = this.requests.get(runId);
    if (!request || request.assignedTo !== machine) {
      throw new RekeyError('RUN_NOT_ASSIGNED', `run ${runId} is not one this machine was handed (unknown, reported already, or handed to another machine)`, { runId }, 'not_found');
    }
    return request;
  }

  complete(runId: string): void {
    this.requests.delete(runId);
  }
}

function targets(connection: ConnectionState, group: string, machine: string): boolean {
  return connection.target.type === 'group' ? connection.target.name === group : connection.target.name === machine;
}
