/**
 * From aggregate state to table rows: pure functions, no rules. Every value comes from the domain's
 * own state and helpers (primaryKey, secondaryKey, passwordRegenerationRequired, PORTAL_MESSAGE,
 * scheduledRenewalStart and, for pending settings, the group decider's own scheduler).
 *
 * A row is computed in two steps: its column values (an array in the table's column order, without
 * createdon/modifiedon), which is what the projection compares to find changed columns, and the row
 * object built from them (ids, formatted values, createdon/modifiedon and `@odata.etag`).
 */
import type { Envelope } from '../src/kernel/envelope.js';
import type { ConnectionState } from '../src/domain/connection/state.js';
import { decideGroup } from '../src/domain/group/decide.js';
import { scheduledRenewalStart } from '../src/domain/group/schedule.js';
import {
  PORTAL_MESSAGE,
  passwordRegenerationRequired,
  primaryKey,
  secondaryKey,
  type GroupState,
} from '../src/domain/group/state.js';
import { toIso, type Instant } from '../src/domain/time.js';
import { heartbeatAt, type HeartbeatBasis } from './heartbeat.js';
import { CHOICES, COLUMNS, FORMATTED, TABLES, type RenewalState, type Row, type TableName } from './tables.js';

/** What a row remembers about itself beyond the aggregate: when it appeared and last changed. */
export interface RowMeta {
  readonly createdOn: Instant;
  readonly modifiedOn: Instant;
  /** Position of the event that last changed the row (the `@odata.etag` version). */
  readonly version: number;
}

/**
 * A machine's own facts, kept by the projection because its row outlives its membership: the group
 * it is in (if any), what it was last known as, its session facts (R21) and every stream that ever
 * changed its row (for its history).
 */
export interface MachineFacts {
  readonly machineId: string;
  readonly name: string;
  /** Agent version while outside a group (a member's comes from the group state). */
  readonly agentVersion: string;
  readonly groupStream: string | null;
  readonly heartbeat: HeartbeatBasis;
  readonly streams: readonly string[];
}

/**
 * A row's column values in the order of `VALUE_COLUMNS[table]`, instants as epoch milliseconds
 * (turned into ISO text when the row is built). Machines carry one more value after the columns: the
 * group's name, for the lookup's formatted value.
 */
export type RowValues = readonly unknown[];

/** Columns holding instants, by table. */
const INSTANT_COLUMNS = new Set([
  'keycreationdate', 'passwordchangeddate', 'createdon', 'modifiedon', 'rekey_keyexpirydate', 'rekey_nextrenewaldate',
  'rekey_renewalendsat', 'keyreceiveddate', 'lastheartbeatdate', 'lastuseddate', 'reencrypteddate',
]);

const META_COLUMNS = new Set(['createdon', 'modifiedon']);
/** The columns a row's values hold: every column but createdon and modifiedon. */
export const VALUE_COLUMNS: Readonly<Record<TableName, readonly string[]>> = {
  flowmachinegroups: COLUMNS.flowmachinegroups.filter((c) => !META_COLUMNS.has(c)),
  flowmachines: COLUMNS.flowmachines.filter((c) => !META_COLUMNS.has(c)),
  desktopflowconnections: COLUMNS.desktopflowconnections.filter((c) => !META_COLUMNS.has(c)),
};

/** Index of `lastheartbeatdate` in a machine's values: the one value that depends on the instant. */
export const MACHINE_HEARTBEAT = VALUE_COLUMNS.flowmachines.indexOf('lastheartbeatdate');
const MACHINE_GROUP_NAME = VALUE_COLUMNS.flowmachines.length;

/** ISO text of instants, memoised: the same few instants (key dates, check-ins) are rendered over and over. */
const ISO_CACHE = new Map<Instant, string>();
export function iso(at: Instant | null | undefined): string | null {
  if (at === null || at === undefined) return null;
  let text = ISO_CACHE.get(at);
  if (text === undefined) {
    if (ISO_CACHE.size >= 100_000) ISO_CACHE.clear();
    text = toIso(at);
    ISO_CACHE.set(at, text);
  }
  return text;
}

export const etag = (version: number): string => `W/"${version}"`;

/** A far instant for look-ahead: the scheduler stops on its own once a group could only expire. */
const LOOKAHEAD_UNTIL = 8.64e15;

/**
 * rekey_nextrenewaldate, always of the primary key (R22), from the domain's own schedule:
 * - a renewal under way whose new key is not issued yet: that renewal's start (the primary is still
 *   the key being renewed, and this is its renewal);
 * - otherwise the start of the primary's renewal by the domain's `scheduledRenewalStart` (R3, R5),
 *   during a renewal whose new key is issued as it will be once the window closes (the new key is
 *   the primary);
 * - with settings changes recorded but not yet picked up (R4), the first RenewalStarted the group's
 *   own scheduler (`decideGroup` ProcessDue) would record with the clock running on, so the date
 *   shown already follows the new values.
 * Null for a group without a key, an expired group, or a deleted one. The value never depends on
 * membership, so whether the group will in fact survive E is not foreseen.
 */
export function nextRenewalDate(state: GroupState): Instant | null {
  if (state.lifecycle !== 'active') return null;
  const renewal = state.renewal;
  if (renewal && renewal.newVersion === null) return renewal.startsAt;
  const settled: GroupState = renewal ? { ...state, renewal: null } : state;
  if (settled.pendingChanges.length === 0) return scheduledRenewalStart(settled);
  const ahead = decideGroup({ type: 'ProcessDue', at: LOOKAHEAD_UNTIL }, { ...settled, members: {} });
  const started = ahead.find((event) => event.type === 'RenewalStarted');
  return started ? started.at : null;
}

export function renewalStateOf(state: GroupState): RenewalState {
  if (state.lifecycle === 'expired') return 'Expired';
  return state.renewal ? 'Renewing' : 'None';
}

/** The flowmachinegroups values, or null when the group does not exist (never created, or deleted). */
export function groupValues(state: GroupState, nextRenewal: Instant | null): RowValues | null {
  if (state.lifecycle !== 'active' && state.lifecycle !== 'expired') return null;
  const primary = primaryKey(state);
  const expired = state.lifecycle === 'expired';
  const regenerate = passwordRegenerationRequired(state);
  return [
    state.groupId,
    state.name,
    primary?.createdAt ?? null,
    state.recorded.validity,
    state.recorded.grace,
    state.passwordChangedAt,
    state.rotationStartedBy,
    primary?.thumbprint ?? null,
    secondaryKey(state)?.thumbprint ?? null,
    expired ? 1 : 0, // statecode: Active, Inactive (R16)
    expired ? 4 : 1, // statuscode: Active, KeyExpired (R16)
    primary?.notAfter ?? null,
    nextRenewal,
    state.renewal?.endsAt ?? null,
    renewalStateOf(state),
    regenerate,
    regenerate ? PORTAL_MESSAGE : null,
    state.proactiveReencryption,
  ];
}

/**
 * The flowmachines values. A member shows its group's view of it (R7, R10, R12, R15); a machine
 * outside any group (never joined, left, or its group was deleted) keeps its row with an empty group
 * lookup, no key delivery status and statecode Active.
 */
export function machineValues(facts: MachineFacts, group: GroupState | undefined, at: Instant): RowValues {
  const candidate = group && facts.groupStream !== null ? group.members[facts.name] : undefined;
  const member = candidate && candidate.machineId === facts.machineId ? candidate : undefined;
  const status = member ? member.status : null;
  return [
    facts.machineId,
    facts.name,
    member ? member.agentVersion : facts.agentVersion,
    member ? group!.groupId : null,
    status,
    member ? member.keyReceivedAt : null,
    heartbeatAt(facts.heartbeat, at),
    status === 3 ? 2 : 0, // statecode: Active, Maintenance (R15)
    status === 3 ? 11 : 1, // statuscode: Active, RequiresGroupKey (R15)
    member ? group!.name : null,
  ];
}

/** The desktopflowconnections values, or null before the connection exists. */
export function connectionValues(state: ConnectionState): RowValues | null {
  if (!state.exists) return null;
  return [
    state.connectionId,
    state.name,
    state.target.type,
    state.target.name,
    state.needsFix ? 'Fix connection' : 'Connected',
    keyThumbprints(state.ciphertexts),
    state.lastUsedAt,
    state.reencryptedAt,
  ];
}

const THUMBPRINTS = new WeakMap<readonly Envelope[], string | null>();
/** Comma-separated, as the Web API renders multi-valued columns, so contains() filters work on it. */
function keyThumbprints(ciphertexts: readonly Envelope[]): string | null {
  let text = THUMBPRINTS.get(ciphertexts);
  if (text === undefined) {
    text = ciphertexts.length > 0 ? ciphertexts.map((c) => c.thumbprint).join(',') : null;
    THUMBPRINTS.set(ciphertexts, text);
  }
  return text;
}

interface ColumnPlan {
  readonly column: string;
  /** Index into the values, or 'createdon' / 'modifiedon' for the meta columns. */
  readonly source: number | 'createdon' | 'modifiedon';
  readonly instant: boolean;
  /** `<column>@OData.Community.Display.V1.FormattedValue` and the labels, for choice columns. */
  readonly formatted?: { readonly key: string; readonly labels: Readonly<Record<number, string>> };
}

const PLANS: Readonly<Record<TableName, readonly ColumnPlan[]>> = Object.fromEntries(TABLES.map((table) => {
  let index = 0;
  const plan = COLUMNS[table].map((column): ColumnPlan => {
    const source = column === 'createdon' || column === 'modifiedon' ? column : index++;
    const labels = CHOICES[table][column];
    const instant = INSTANT_COLUMNS.has(column);
    return labels ? { column, source, instant, formatted: { key: `${column}${FORMATTED}`, labels } } : { column, source, instant };
  });
  return [table, plan];
})) as unknown as Record<TableName, readonly ColumnPlan[]>;

const LOOKUP_FORMATTED = `_flowmachinegroupid_value${FORMATTED}`;

/** The row object: `@odata.etag`, then every column in order, each choice followed by its label. */
export function buildRow(table: TableName, values: RowValues, meta: RowMeta): Row {
  const row: Row = { '@odata.etag': etag(meta.version) };
  for (const plan of PLANS[table]) {
    const raw = plan.source === 'createdon' ? meta.createdOn : plan.source === 'modifiedon' ? meta.modifiedOn : values[plan.source];
    const value = plan.instant ? iso(raw as Instant | null) : raw;
    row[plan.column] = value ?? null;
    if (plan.formatted && typeof value === 'number') {
      const label = plan.formatted.labels[value];
      if (label !== undefined) row[plan.formatted.key] = label;
    } else if (table === 'flowmachines' && plan.column === '_flowmachinegroupid_value' && value !== null) {
      row[LOOKUP_FORMATTED] = values[MACHINE_GROUP_NAME];
    }
  }
  return row;
}

export function renderGroupRow(state: GroupState, meta: RowMeta, nextRenewal: Instant | null): Row | null {
  const values = groupValues(state, nextRenewal);
  return values && buildRow('flowmachinegroups', values, meta);
}

export function renderMachineRow(facts: MachineFacts, group: GroupState | undefined, meta: RowMeta, at: Instant): Row {
  return buildRow('flowmachines', machineValues(facts, group, at), meta);
}

export function renderConnectionRow(state: ConnectionState, meta: RowMeta): Row | null {
  const values = connectionValues(state);
  return values && buildRow('desktopflowconnections', values, meta);
}
