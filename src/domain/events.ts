/**
 * The facts rekey records, named in the past tense. Instants are ISO-8601 UTC strings and durations
 * integer minutes, so that the log reads the same in any language. Nothing here may ever hold a
 * password, a plaintext private key or a plaintext credential: only certificates, thumbprints,
 * PKCS#12 packages under the customer's password, keys wrapped under another group key and
 * credentials encrypted to a group key.
 */
import type { Envelope } from '../kernel/envelope.js';

export interface CertificateFacts {
  /** Key version within the group: 1 for the first key, n+1 for each renewal. */
  version: number;
  thumbprint: string;
  certificatePem: string;
  createdAt: string;
  /** v_key: the validity in force when the key was issued (R3). */
  validityMinutes: number;
  notAfter: string;
}

export type MachineKeyDeliveryStatus = 1 | 2 | 3; // Default, PendingNewKey, KeyExpired

/**
 * A key of an imported group as an export showed it (`rekey import`): its thumbprint and dates only.
 * rekey never held its private half, nor its certificate.
 */
export interface ImportedKeyFacts {
  /** 1 for the oldest key the export showed (the retiring one during a renewal), then 2. */
  version: number;
  thumbprint: string;
  createdAt: string;
  validityMinutes: number;
  notAfter: string;
  /** True when the export did not show these dates and they were worked out (a retiring key). */
  estimated: boolean;
  /**
   * Never written by an import. A forecast's private in-memory copy of the log puts a stand-in
   * certificate (and the stand-in key wrapped under the previous stand-in) here, so that simulated
   * machine agents can renew the group (docs/forecast.md).
   */
  certificatePem?: string;
  wrappedUnderPrevious?: Envelope | null;
}

export type GroupEvent =
  | { type: 'GroupCreated'; data: { groupId: string; name: string; keyValidityPeriod: number; keyExpiryGracePeriod: number; proactiveReencryption: boolean; createdAt: string } }
  /** R7 (first key, issuer = the first machine) and R11 (renewal key, wrapped under the previous key). */
  | { type: 'KeyIssued'; data: CertificateFacts & { issuedBy: string; wrappedUnderPrevious: Envelope | null } }
  /** R7: the group password package (PKCS#12 of the primary key under the customer's password). */
  | { type: 'GroupPasswordSet'; data: { machine: string; packageThumbprint: string; passwordPackage: string } }
  | { type: 'MachineJoined'; data: { machineId: string; machine: string; agentVersion: string; keyThumbprints: string[]; status: MachineKeyDeliveryStatus } }
  | { type: 'MachineRejoined'; data: { machine: string; agentVersion: string; keyThumbprint: string } }
  | { type: 'MachineLeft'; data: { machine: string; reason: 'removed' | 'groupDeleted' } }
  /**
   * A member's online session (R21). Its check-ins fall every `checkInIntervalMinutes` from
   * `sessionStartedAt` (the online interval's start; absent when that is the event's own instant,
   * present when a machine joined part-way through an interval).
   */
  | { type: 'MachineConnected'; data: { machine: string; checkInIntervalMinutes: number; sessionStartedAt?: string } }
  | { type: 'MachineDisconnected'; data: { machine: string } }
  | { type: 'MachineCheckedIn'; data: { machine: string } }
  | { type: 'AgentVersionReported'; data: { machine: string; agentVersion: string } }
  | { type: 'KeyValidityPeriodChanged'; data: { minutes: number; pickupAt: string } }
  | { type: 'KeyExpiryGracePeriodChanged'; data: { minutes: number; pickupAt: string } }
  | { type: 'ProactiveReencryptionChanged'; data: { enabled: boolean } }
  | { type: 'SettingsPickedUp'; data: { keyValidityPeriod: number; keyExpiryGracePeriod: number } }
  /** R10 */
  | { type: 'RenewalStarted'; data: { keyVersion: number; keyThumbprint: string; startsAt: string; endsAt: string } }
  /** R12 */
  | { type: 'MachineKeyDelivered'; data: { machine: string; keyVersion: number; keyThumbprint: string } }
  /** R15: a key retired at the end of its renewal window (or with its group, R19). */
  | { type: 'KeyExpired'; data: { keyVersion: number; keyThumbprint: string } }
  | { type: 'MachineKeyExpired'; data: { machine: string; keyVersion: number } }
  /** R16 */
  | { type: 'GroupKeyExpired'; data: { keyVersion: number; reason: string } }
  /** R17 */
  | { type: 'GroupPasswordRegenerated'; data: { machine: string; packageThumbprint: string; passwordPackage: string } }
  /** R19 */
  | { type: 'GroupDeleted'; data: { name: string } }
  /**
   * `rekey import`: the group as an export showed it at `observedAt` (the event's instant). Its
   * history before that instant is unknown; its keys are known by thumbprint and dates only.
   */
  | { type: 'GroupImported'; data: {
      groupId: string; name: string; keyValidityPeriod: number; keyExpiryGracePeriod: number; proactiveReencryption: boolean;
      observedAt: string; createdOn: string | null; expired: boolean; passwordChangedAt: string | null;
      rotationStartedBy: string | null; passwordRegenerationRequired: boolean;
      keys: ImportedKeyFacts[]; renewal: { startsAt: string; endsAt: string } | null; source: string;
      /**
       * Never written by an import (the group's password and package are unknown to rekey). A
       * continued scenario's private stand-in copy puts one here, made with the stand-in of the
       * primary key under the password the scenario gives for the group.
       */
      passwordPackage?: { packageThumbprint: string; passwordPackage: string };
    } }
  /** `rekey import`: a member as the export showed it; `keyVersions` are versions of the group's imported keys. */
  | { type: 'MachineImported'; data: {
      machineId: string; machine: string; agentVersion: string; status: MachineKeyDeliveryStatus; keyVersions: number[];
      keyReceivedAt: string | null; lastHeartbeatAt: string | null; observedAt: string; source: string;
    } };

export type ConnectionTarget = { type: 'group' | 'machine'; name: string };

export type ConnectionEvent =
  | { type: 'ConnectionCreated'; data: { connectionId: string; name: string; target: ConnectionTarget; ciphertexts: Envelope[] } }
  | { type: 'ConnectionRun'; data: { machine: string; keyThumbprint: string } }
  | { type: 'ConnectionRunFailed'; data: { reason: string; code: string } }
  /** R14: a machine holding both keys added the ciphertext for the new key. */
  | { type: 'ConnectionReencrypted'; data: { machine: string; ciphertext: Envelope; proactive: boolean } }
  /** R14: at E the ciphertext for the retired key is dropped. */
  | { type: 'ConnectionCiphertextDropped'; data: { keyThumbprint: string } }
  /** R15, R16, R19, R20 */
  | { type: 'ConnectionNeedsFix'; data: { reason: string } }
  /** R18 */
  | { type: 'ConnectionFixed'; data: { ciphertexts: Envelope[] } }
  /**
   * `rekey import`: a connection as an export showed it. Its credentials are known only by the
   * thumbprints they are encrypted to (`ciphertexts` is filled by a forecast's stand-in copy only).
   */
  | { type: 'ConnectionImported'; data: {
      connectionId: string; name: string; target: ConnectionTarget; needsFix: boolean; keyThumbprints: string[];
      lastUsedAt: string | null; reencryptedAt: string | null; observedAt: string; source: string; ciphertexts?: Envelope[];
    } };

/** A machine's own identity outside any group (R20: connections that target it alone). */
export type MachineEvent =
  | { type: 'MachineRegistered'; data: { machineId: string; name: string; agentVersion: string; certificatePem: string; thumbprint: string } };

export type DomainEvent = GroupEvent | ConnectionEvent | MachineEvent;
export type DomainEventType = DomainEvent['type'];

/** Event types whose data may be validated at the edges; also the list `rekey events` documents. */
export const GROUP_EVENT_TYPES = [
  'GroupCreated', 'KeyIssued', 'GroupPasswordSet', 'MachineJoined', 'MachineRejoined', 'MachineLeft',
  'MachineConnected', 'MachineDisconnected', 'MachineCheckedIn', 'AgentVersionReported',
  'KeyValidityPeriodChanged', 'KeyExpiryGracePeriodChanged', 'ProactiveReencryptionChanged',
  'SettingsPickedUp', 'RenewalStarted', 'MachineKeyDelivered', 'KeyExpired', 'MachineKeyExpired',
  'GroupKeyExpired', 'GroupPasswordRegenerated', 'GroupDeleted', 'GroupImported', 'MachineImported',
] as const satisfies readonly GroupEvent['type'][];

/** An event as the deciders see it: the fact plus the domain instant it happened at. */
export type Timed<E> = E & { at: number };
