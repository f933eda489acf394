/**
 * The fleet as the export files show it, checked and ready to import: the shapes `observeFleet`
 * returns, kept apart so the importer and its report read them without the checks.
 */
import type { ImportedKeyFacts, MachineKeyDeliveryStatus } from '../../domain/events.js';
import type { Instant } from '../../domain/time.js';
import type { ImportTable } from '../columns.js';
import type { ImportProblem } from '../exportFiles.js';
import type { PartialTable } from '../pages.js';

export interface ObservedGroup {
  readonly source: string;
  readonly groupId: string;
  readonly name: string;
  readonly validity: number;
  readonly grace: number;
  readonly keyCreatedAt: Instant | null;
  /** v_key: from rekey_keyexpirydate when given, else the recorded validity. */
  readonly keyValidity: number;
  readonly primary: string | null;
  readonly secondary: string | null;
  readonly expired: boolean;
  readonly passwordChangedAt: Instant | null;
  readonly rotationStartedBy: string | null;
  readonly createdOn: Instant | null;
  readonly renewalEndsAt: Instant | null;
  readonly renewalState: 'None' | 'Renewing' | 'Expired' | null;
  readonly nextRenewalDate: Instant | null;
  readonly passwordRegenerationRequired: boolean | null;
  readonly proactiveReencryption: boolean;
}

export interface ObservedMachine {
  readonly source: string;
  readonly machineId: string;
  readonly name: string;
  readonly agentVersion: string;
  /** The group's id, or null for a machine outside any group. */
  readonly groupId: string | null;
  readonly status: MachineKeyDeliveryStatus;
  readonly keyReceivedAt: Instant | null;
  readonly lastHeartbeatAt: Instant | null;
}

export interface ObservedConnection {
  readonly source: string;
  readonly connectionId: string;
  readonly name: string;
  readonly target: { readonly type: 'group' | 'machine'; readonly name: string };
  readonly needsFix: boolean;
  readonly keyThumbprints: readonly string[];
  readonly lastUsedAt: Instant | null;
  readonly reencryptedAt: Instant | null;
}

/** One group as it will be imported: its keys, renewal and members worked out. */
export interface ImportedGroupPlan {
  readonly group: ObservedGroup;
  readonly keys: readonly ImportedKeyFacts[];
  readonly renewal: { readonly startsAt: Instant; readonly endsAt: Instant } | null;
  readonly members: readonly { readonly machine: ObservedMachine; readonly keyVersions: readonly number[] }[];
}

export interface ObservedFleet {
  readonly observedAt: Instant;
  readonly groups: readonly ImportedGroupPlan[];
  readonly connections: readonly ObservedConnection[];
  /** Machines outside any group: shown in the report, not imported (they take no part in renewals). */
  readonly loneMachines: readonly ObservedMachine[];
  /** Every problem found; with skipBad, the rows they name were left out. */
  readonly problems: readonly ImportProblem[];
  readonly files: readonly ObservedFile[];
  /** Tables only partly in the files (set by the importer; imported only with --allow-partial). */
  readonly partial?: readonly PartialTable[];
}

/** What the import read from one file: counts, and how it read it. */
export interface ObservedFile {
  readonly file: string;
  readonly table: ImportTable;
  readonly rows: number;
  readonly imported: number;
  readonly skipped: number;
  readonly encoding: string;
  readonly delimiter?: string;
  readonly locale: string;
  readonly localeSource: string;
  /** Columns rekey does not read (Dataverse's system columns, annotations), once each. */
  readonly ignoredColumns: readonly string[];
}
