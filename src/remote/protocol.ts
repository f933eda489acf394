/**
 * The machine API's wire format (HTTP + JSON), shared by the service plugin and the agent client.
 * Everything here is public or encrypted: certificates, thumbprints, PKCS#12 packages under the
 * customer's password, keys wrapped under another group key, credentials encrypted to a group key,
 * and the machines' public request-signing keys. No password, private key or plaintext credential
 * is ever part of a request or a response.
 */
import type { Envelope } from '../kernel/envelope.js';

export const MACHINE_API = '/api/machine';

/** The request-signing headers (see signing.ts for what the signature covers). */
export const HEADER = {
  machine: 'x-rekey-machine',
  /** Thumbprint of the signing key; for joins and rejoins, of the key carried in the body. */
  key: 'x-rekey-key',
  timestamp: 'x-rekey-timestamp',
  nonce: 'x-rekey-nonce',
  signature: 'x-rekey-signature',
} as const;

export const paths = {
  time: () => `${MACHINE_API}/time`,
  joinStart: (group: string) => `${MACHINE_API}/groups/${encodeURIComponent(group)}/join-start`,
  join: (group: string) => `${MACHINE_API}/groups/${encodeURIComponent(group)}/join`,
  machine: (group: string, machine: string) => `${MACHINE_API}/groups/${encodeURIComponent(group)}/machines/${encodeURIComponent(machine)}`,
  rejoin: (group: string, machine: string) => `${paths.machine(group, machine)}/rejoin`,
  checkIn: (group: string, machine: string) => `${paths.machine(group, machine)}/check-in`,
  publishKey: (group: string, machine: string) => `${paths.machine(group, machine)}/key`,
  ackKey: (group: string, machine: string) => `${paths.machine(group, machine)}/key/ack`,
  runs: (group: string, machine: string) => `${paths.machine(group, machine)}/runs`,
  run: (group: string, machine: string, runId: string) => `${paths.machine(group, machine)}/runs/${encodeURIComponent(runId)}`,
  reencryptions: (group: string, machine: string) => `${paths.machine(group, machine)}/reencryptions`,
  password: (group: string, machine: string) => `${paths.machine(group, machine)}/password`,
  disconnect: (group: string, machine: string) => `${paths.machine(group, machine)}/disconnect`,
};

export interface TimeResponse {
  /** The service's now, ISO-8601 UTC. */
  readonly now: string;
  /** Service seconds per real second. */
  readonly speed: number;
  /** True while the test clock is held for a certificate being built. */
  readonly held: boolean;
}

export interface KeyView {
  readonly version: number;
  readonly thumbprint: string;
  readonly certificatePem: string;
  readonly primary: boolean;
}

/** What the service knows of one member (no secrets: statuses, versions, certificates). */
export interface MachineView {
  readonly group: string;
  readonly machine: string;
  readonly machineId: string;
  /** 1 Default, 2 PendingNewKey, 3 KeyExpired. */
  readonly status: 1 | 2 | 3;
  /** The group key versions the service believes this machine holds. */
  readonly keyVersions: readonly number[];
  /** The group's live keys (the primary and, during a renewal, the secondary). */
  readonly liveKeys: readonly KeyView[];
  readonly groupState: 'active' | 'expired' | 'deleted' | 'none';
  readonly renewal: { readonly oldVersion: number; readonly newVersion: number | null; readonly startsAt: string; readonly endsAt: string } | null;
  readonly passwordRegenerationRequired: boolean;
}

export interface JoinStartRequest {
  readonly machine: string;
  /** The machine's request-signing public key (SPKI PEM, Ed25519). */
  readonly signingKey: string;
}

export interface JoinStartResponse {
  readonly group: string;
  readonly hasKey: boolean;
  /** The group password package (PKCS#12 under the customer's password), when the group has one. */
  readonly passwordPackage: string | null;
  /** For the first machine: the instant its certificate must start at (the clock is held for it). */
  readonly issueAt: string | null;
  /** The validity in force, in minutes: the first certificate's notAfter is issueAt plus this. */
  readonly validityMinutes: number;
}

export type JoinCredentialBody =
  | { readonly kind: 'firstKey'; readonly certificatePem: string; readonly passwordPackage: string }
  | { readonly kind: 'password'; readonly keyThumbprint: string };

export interface JoinBody {
  readonly machine: string;
  readonly machineId: string;
  readonly agentVersion: string;
  readonly signingKey: string;
  readonly credential: JoinCredentialBody;
  /** Proof of possession of the group key over the engine's join statement. */
  readonly proof: string;
  /** Proof of possession of the group key over the credential statement (binds the signing key). */
  readonly credentialProof: string;
}

export interface RejoinBody {
  readonly agentVersion: string;
  readonly signingKey: string;
  readonly keyThumbprint: string;
  readonly proof: string;
  readonly credentialProof: string;
}

export interface CheckInBody {
  readonly agentVersion: string;
  readonly intervalMinutes: number;
  /** Thumbprints of the group keys in the agent's key store. */
  readonly heldKeys: readonly string[];
}

export type CheckInAction =
  | { readonly kind: 'none' }
  /** R11: this machine is the first to check in during the renewal: issue the new key. */
  | { readonly kind: 'issue'; readonly issueAt: string; readonly validityMinutes: number; readonly version: number; readonly oldKeyThumbprint: string }
  /** R12: take the new key, wrapped under the old one, and acknowledge it. */
  | { readonly kind: 'take'; readonly key: { readonly version: number; readonly thumbprint: string; readonly certificatePem: string; readonly wrappedUnderPrevious: Envelope } }
  /** R15, R17: the machine missed a renewal; it needs `rekey agent --rejoin` with the regenerated password. */
  | { readonly kind: 'rejoin'; readonly reason: string };

export interface RunOrder {
  readonly runId: string;
  readonly connection: string;
  /** The connection's ciphertexts (one per live key it is encrypted to). */
  readonly ciphertexts: readonly Envelope[];
  /** The target's live certificates, to re-encrypt to the ones the connection lacks (R14). */
  readonly liveCertificates: readonly { readonly thumbprint: string; readonly pem: string }[];
}

export interface ReencryptOrder {
  readonly connection: string;
  readonly ciphertext: Envelope;
  readonly newCertificate: { readonly thumbprint: string; readonly pem: string };
}

export interface CheckInResponse {
  readonly now: string;
  readonly machine: MachineView;
  readonly action: CheckInAction;
  readonly runs: readonly RunOrder[];
  /** R14 with proactive re-encryption on: connections still only on the old key. */
  readonly reencrypt: readonly ReencryptOrder[];
}

export interface PublishKeyBody {
  readonly certificatePem: string;
  readonly wrappedUnderPrevious: Envelope;
}

export interface AckKeyBody {
  readonly keyThumbprint: string;
}

export type RunReportBody =
  | { readonly outcome: 'run'; readonly keyThumbprint: string; readonly reencrypted: Envelope | null }
  | { readonly outcome: 'failed'; readonly reason: 'noUsableKey' | 'decryptionFailed' };

export interface ReencryptionBody {
  readonly connection: string;
  readonly ciphertext: Envelope;
}

export interface RegeneratePasswordBody {
  readonly packageThumbprint: string;
  readonly passwordPackage: string;
}

export interface ErrorBody {
  readonly error: { readonly code: string; readonly message: string };
}

/** The statement a group key signs to vouch for a machine's request-signing key. */
export function credentialStatement(group: string, machine: string, signingKeyThumbprint: string): string {
  return `rekey machine credential ${group} ${machine} ${signingKeyThumbprint}`;
}
