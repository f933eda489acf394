/**
 * The state of one machine group as its deciders need it: membership, keys, settings and the
 * renewal in progress. Derived only by `evolveGroup` from the group's events.
 */
import type { Envelope } from '../../kernel/envelope.js';
import type { MachineKeyDeliveryStatus } from '../events.js';
import type { PeriodSettings } from '../periods.js';
import type { Instant } from '../time.js';

export interface GroupKey {
  readonly version: number;
  readonly thumbprint: string;
  readonly certificatePem: string;
  readonly createdAt: Instant;
  readonly validity: number;
  readonly notAfter: Instant;
  readonly issuedBy: string;
  /** The key's private half wrapped under the previous key (R11); null for a group's first key. */
  readonly wrappedUnderPrevious: Envelope | null;
  readonly retired: boolean;
}

export interface Member {
  readonly machineId: string;
  readonly name: string;
  readonly agentVersion: string;
  readonly status: MachineKeyDeliveryStatus;
  /** Versions of the group keys this member holds (the service's view of its key store). */
  readonly keyVersions: readonly number[];
  readonly keyReceivedAt: Instant | null;
  readonly connected: boolean;
  readonly checkInIntervalMinutes: number;
}

export interface PendingSettingsChange {
  readonly pickupAt: Instant;
  readonly validity?: number;
  readonly grace?: number;
}

export interface Renewal {
  /** Version of the key being renewed (the secondary once the new key exists). */
  readonly oldVersion: number;
  readonly startsAt: Instant;
  readonly endsAt: Instant;
  /** Version of the new key once a member issued it (R11). */
  readonly newVersion: number | null;
}

export type GroupLifecycle = 'none' | 'active' | 'expired' | 'deleted';

export interface GroupState {
  readonly lifecycle: GroupLifecycle;
  readonly groupId: string;
  readonly name: string;
  readonly createdAt: Instant;
  /** The latest recorded settings: what the table shows and what new changes are validated against (R2, R4). */
  readonly recorded: PeriodSettings;
  /** The settings in force: recorded ones once picked up (R4). */
  readonly effective: PeriodSettings;
  readonly effectiveSince: Instant;
  /** When the last renewal window ended (its old key retired): no renewal starts before it. */
  readonly lastWindowEndedAt: Instant;
  readonly pendingChanges: readonly PendingSettingsChange[];
  readonly proactiveReencryption: boolean;
  readonly keys: readonly GroupKey[];
  readonly primaryVersion: number | null;
  readonly renewal: Renewal | null;
  readonly members: Readonly<Record<string, Member>>;
  /** Thumbprint of the key inside the published password package (R7, R17). */
  readonly passwordPackageThumbprint: string | null;
  readonly passwordPackage: string | null;
  readonly passwordChangedAt: Instant | null;
  /** Set when a renewal starts, cleared by a password regeneration (R10, R17). */
  readonly securityUpdatedSinceRegeneration: boolean;
  /** Who issued the key of the last renewal (rotationstartedby). */
  readonly rotationStartedBy: string | null;
}

export const initialGroupState: GroupState = {
  lifecycle: 'none',
  groupId: '',
  name: '',
  createdAt: 0,
  recorded: { validity: 0, grace: 0 },
  effective: { validity: 0, grace: 0 },
  effectiveSince: 0,
  lastWindowEndedAt: 0,
  pendingChanges: [],
  proactiveReencryption: false,
  keys: [],
  primaryVersion: null,
  renewal: null,
  // Frozen: a fold writing members in place (memberWrites.ts) copies it instead of filling it.
  members: Object.freeze({}),
  passwordPackageThumbprint: null,
  passwordPackage: null,
  passwordChangedAt: null,
  securityUpdatedSinceRegeneration: false,
  rotationStartedBy: null,
};

export function keyByVersion(state: GroupState, version: number | null): GroupKey | undefined {
  return version === null ? undefined : state.keys.find((key) => key.version === version);
}

export function primaryKey(state: GroupState): GroupKey | undefined {
  return keyByVersion(state, state.primaryVersion);
}

/** Keys that are not retired: the primary and, during a renewal after issuance, the secondary (R13, R22). */
export function liveKeys(state: GroupState): GroupKey[] {
  return state.lifecycle === 'active' ? state.keys.filter((key) => !key.retired) : [];
}

export function secondaryKey(state: GroupState): GroupKey | undefined {
  const renewal = state.renewal;
  return renewal && renewal.newVersion !== null ? keyByVersion(state, renewal.oldVersion) : undefined;
}

/** The portal's key icon and message (R10) until a member regenerates the password with the primary key (R17). */
export function passwordRegenerationRequired(state: GroupState): boolean {
  if (state.lifecycle !== 'active') return false;
  return state.securityUpdatedSinceRegeneration ||
    (state.passwordPackageThumbprint !== null && state.passwordPackageThumbprint !== primaryKey(state)?.thumbprint);
}

export const PORTAL_MESSAGE =
  'Machine group security has been updated. Re-generate a machine group password before adding a new machine.';

/** A member by name; names like `toString` are nobody (members is a plain record). */
export function memberOf(state: GroupState, name: string): Member | undefined {
  return Object.hasOwn(state.members, name) ? state.members[name] : undefined;
}
