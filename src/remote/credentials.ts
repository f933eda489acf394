/**
 * The machines' request-signing keys, as the service knows them. A key is registered when a machine
 * joins or rejoins (after the engine accepted its proof of possession of the group key) as a
 * `MachineCredentialRegistered` event in a stream of its own, `agentcredential-<machineId>`: on the
 * hash-chained log, audited like everything else, and read by no table (the projections and the
 * engine ignore streams they do not know). The latest registration of a machine name wins.
 *
 * The event holds a public key only.
 */
import { randomUUID } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { toIso, type Instant } from '../domain/time.js';
import type { EventStore } from '../store/port.js';
import { parseSigningKey } from './signing.js';

export const CREDENTIAL_STREAM_PREFIX = 'agentcredential-';
export const CREDENTIAL_EVENT = 'MachineCredentialRegistered';

export interface MachineCredential {
  readonly machineId: string;
  readonly machine: string;
  readonly group: string;
  readonly keyThumbprint: string;
  readonly publicKeyPem: string;
  readonly publicKey: KeyObject;
  readonly registeredAt: string;
}

export class CredentialRegistry {
  private position = 0;
  private readonly byMachine = new Map<string, MachineCredential>();

  constructor(private readonly store: EventStore) {}

  /** Reads the registrations appended since the last look (by this service or another). */
  async refresh(): Promise<void> {
    for (;;) {
      const page = await this.store.readAll(this.position + 1, 5000);
      for (const recorded of page) {
        this.position = recorded.position;
        if (!recorded.stream.startsWith(CREDENTIAL_STREAM_PREFIX) || recorded.type !== CREDENTIAL_EVENT) continue;
        const data = recorded.data as Record<string, unknown>;
        const publicKey = parseSigningKey(data.publicKeyPem);
        if (!publicKey || typeof data.machine !== 'string' || typeof data.group !== 'string' || typeof data.machineId !== 'string') continue;
        this.byMachine.set(data.machine, {
          machineId: data.machineId,
          machine: data.machine,
          group: data.group,
          keyThumbprint: String(data.keyThumbprint),
          publicKeyPem: data.publicKeyPem as string,
          publicKey,
          registeredAt: recorded.metadata.occurredAt,
        });
      }
      if (page.length < 5000) return;
    }
  }

  get(machine: string): MachineCredential | undefined {
    return this.byMachine.get(machine);
  }

  async register(input: { machineId: string; machine: string; group: string; keyThumbprint: string; publicKeyPem: string }, at: Instant): Promise<void> {
    const commandId = randomUUID();
    await this.store.append(`${CREDENTIAL_STREAM_PREFIX}${input.machineId}`, [{
      type: CREDENTIAL_EVENT,
      data: { ...input, algorithm: 'Ed25519' },
      metadata: { occurredAt: toIso(at), commandId, correlationId: commandId },
    }], 'any');
    await this.refresh();
  }
}
