/**
 * Pure-domain fixtures: certificates and envelopes as plain data (the deciders only compare their
 * thumbprints and dates), and a fold of decided events into state.
 */
import type { Envelope } from '../../src/kernel/envelope.js';
import type { GroupCommand, PresentedCertificate } from '../../src/domain/group/commands.js';
import { decideGroup } from '../../src/domain/group/decide.js';
import { evolveGroup } from '../../src/domain/group/evolve.js';
import { initialGroupState, type GroupState } from '../../src/domain/group/state.js';
import type { GroupEvent, Timed } from '../../src/domain/events.js';
import { parseInstant, plusMinutes } from '../../src/domain/time.js';

export const T0 = parseInstant('2026-01-01T00:00:00Z');
export const at = (minutes: number) => plusMinutes(T0, minutes);

export function certificate(thumbprint: string, notBefore: number, validity: number): PresentedCertificate {
  return { pem: `PEM ${thumbprint}`, thumbprint, notBefore, notAfter: plusMinutes(notBefore, validity) };
}

export function envelopeTo(thumbprint: string): Envelope {
  return { alg: 'RSA-OAEP-256+A256GCM', thumbprint, encryptedKey: 'k', iv: 'i', tag: 't', ciphertext: 'c' };
}

type Command = GroupCommand extends infer C ? (C extends unknown ? Omit<C, 'at'> : never) : never;

/** A group under test: applies commands in order and keeps every event. */
export class GroupUnderTest {
  state: GroupState = initialGroupState;
  readonly events: Timed<GroupEvent>[] = [];

  do(atInstant: number, command: Command): Timed<GroupEvent>[] {
    const decided = decideGroup({ ...command, at: atInstant } as GroupCommand, this.state);
    for (const event of decided) this.state = evolveGroup(this.state, event);
    this.events.push(...decided);
    return decided;
  }

  /** The scheduler passing `instant`. */
  tick(instant: number): Timed<GroupEvent>[] {
    return this.do(instant, { type: 'ProcessDue' });
  }

  types(): string[] {
    return this.events.map((event) => event.type);
  }

  static created(options: { validity?: number; grace?: number; proactive?: boolean } = {}): GroupUnderTest {
    const group = new GroupUnderTest();
    group.do(T0, { type: 'CreateGroup', groupId: 'g-1', name: 'Finance', keyValidityPeriod: options.validity, keyExpiryGracePeriod: options.grace, proactiveReencryption: options.proactive });
    return group;
  }

  /** The first machine joins at `instant` and issues key version 1 (R7). */
  firstJoin(instant: number, machine = 'FIN-01', agentVersion = '2.23.116.23040', thumbprint = 'K1'): void {
    this.do(instant, {
      type: 'JoinMachine', machineId: `id-${machine}`, machine, agentVersion, memberOfGroup: null,
      credential: { kind: 'firstKey', certificate: certificate(thumbprint, instant, this.state.effective.validity), passwordPackage: `P12 ${thumbprint}` },
    });
  }

  join(instant: number, machine: string, keyThumbprint: string, agentVersion = '2.23.116.23040'): Timed<GroupEvent>[] {
    return this.do(instant, { type: 'JoinMachine', machineId: `id-${machine}`, machine, agentVersion, memberOfGroup: null, credential: { kind: 'password', keyThumbprint } });
  }

  issue(instant: number, machine: string, thumbprint: string): Timed<GroupEvent>[] {
    const oldThumbprint = this.state.keys.find((key) => key.version === this.state.renewal?.oldVersion)?.thumbprint ?? '?';
    return this.do(instant, { type: 'IssueRenewalKey', machine, certificate: certificate(thumbprint, instant, this.state.effective.validity), wrappedUnderPrevious: envelopeTo(oldThumbprint) });
  }
}

/** Asserts that a function throws a RekeyError with this code, and returns it for more checks. */
export function refusal(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (error) {
    return error as { code: string; message: string };
  }
  throw new Error('expected a refusal, but the command was accepted');
}
