/**
 * What can be asked of a machine group. Every command carries `at`, the instant the injected clock
 * gave when it was issued; deciders never read a clock.
 */
import type { Envelope } from '../../kernel/envelope.js';

/** A certificate as a machine presents it; the engine has parsed it from the PEM. */
export interface PresentedCertificate {
  readonly pem: string;
  readonly thumbprint: string;
  readonly notBefore: number;
  readonly notAfter: number;
}

export type JoinCredential =
  /** R7: the first machine of an empty group brings the group's first certificate and password package. */
  | { readonly kind: 'firstKey'; readonly certificate: PresentedCertificate; readonly passwordPackage: string }
  /** Later machines opened the published password package; this is the key they found in it. */
  | { readonly kind: 'password'; readonly keyThumbprint: string };

export type GroupCommand = { readonly at: number } & (
  | { readonly type: 'CreateGroup'; readonly groupId: string; readonly name: string; readonly keyValidityPeriod?: number; readonly keyExpiryGracePeriod?: number; readonly proactiveReencryption?: boolean }
  | { readonly type: 'JoinMachine'; readonly machineId: string; readonly machine: string; readonly agentVersion: string; readonly credential: JoinCredential; readonly memberOfGroup: string | null }
  | { readonly type: 'RejoinMachine'; readonly machine: string; readonly agentVersion: string; readonly keyThumbprint: string }
  | { readonly type: 'RemoveMachine'; readonly machine: string }
  | { readonly type: 'ConnectMachine'; readonly machine: string; readonly checkInIntervalMinutes: number; readonly sessionStartedAt?: number }
  | { readonly type: 'DisconnectMachine'; readonly machine: string }
  | { readonly type: 'ReportAgentVersion'; readonly machine: string; readonly agentVersion: string }
  | { readonly type: 'IssueRenewalKey'; readonly machine: string; readonly certificate: PresentedCertificate; readonly wrappedUnderPrevious: Envelope }
  | { readonly type: 'AcceptNewKey'; readonly machine: string }
  | { readonly type: 'RegeneratePassword'; readonly machine: string; readonly packageThumbprint: string; readonly passwordPackage: string }
  | { readonly type: 'SetKeyValidityPeriod'; readonly minutes: number; readonly pickupDelayMinutes: number }
  | { readonly type: 'SetKeyExpiryGracePeriod'; readonly minutes: number; readonly pickupDelayMinutes: number }
  | { readonly type: 'SetProactiveReencryption'; readonly enabled: boolean }
  | { readonly type: 'DeleteGroup' }
  /** The scheduler: record every due time (R3, R4, R5, R10, R15, R16) up to `at`. */
  | { readonly type: 'ProcessDue' }
);

export type GroupCommandType = GroupCommand['type'];
