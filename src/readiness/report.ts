/**
 * The seed's checklist for admins ("What if some machines are expected to remain offline or unused
 * for multiple months?") as one report per group: when the next renewal starts and ends, machines
 * below 2.23, machines still waiting for the new key or that missed it, machines not seen since the
 * window opened, connections not yet re-encrypted, and a verdict with its reasons.
 */
import { tablesAt, type Row } from '../../projections/index.js';
import { takesPartInRenewals } from '../domain/agentVersion.js';
import { upcomingRenewal } from '../domain/group/schedule.js';
import { keyByVersion, primaryKey, type GroupState } from '../domain/group/state.js';
import { toIso, type Instant } from '../domain/time.js';
import { Fleet } from '../engine/fleet.js';
import type { EventStore } from '../store/port.js';
import { logPages } from '../store/logPages.js';

export type Verdict = 'OK' | 'at risk' | 'will expire' | 'expired';

export interface GroupReadiness {
  readonly name: string;
  readonly keyVersion: number | null;
  readonly keyCreationDate: string | null;
  readonly keyExpiryDate: string | null;
  readonly renewing: boolean;
  readonly renewalStart: string | null;
  readonly renewalEnd: string | null;
  readonly machinesBelow223: string[];
  readonly pendingNewKey: string[];
  readonly keyExpired: string[];
  readonly notSeenSinceWindowOpened: string[];
  readonly connectionsNotReencrypted: string[];
  readonly connectionsToFix: string[];
  /** Members but none active (all KeyExpired, statecode 2 Maintenance): as unable to renew as an empty group. */
  readonly inactive: boolean;
  readonly verdict: Verdict;
  readonly reasons: string[];
}

export interface ReadinessReport {
  readonly asOf: string | null;
  readonly groups: GroupReadiness[];
}

/** Folds the log up to `asOf` (all of it without) into the engine's working memory. */
export async function fleetAt(store: EventStore, asOf: Instant | undefined): Promise<Fleet> {
  const fleet = new Fleet();
  for await (const page of logPages(store)) {
    for (const event of page) {
      if (asOf !== undefined && Date.parse(event.metadata.occurredAt) > asOf) return fleet;
      fleet.apply(event);
    }
  }
  return fleet;
}

function groupReadiness(group: GroupState, fleet: Fleet, machineRows: Map<string, Row>): GroupReadiness {
  const members = Object.values(group.members).sort((a, b) => a.name.localeCompare(b.name));
  const primary = primaryKey(group);
  const renewal = group.renewal;
  // The window under way, else the next one exactly as the scheduler will record it (R3-R5).
  const upcoming = renewal ? { startsAt: renewal.startsAt, endsAt: renewal.endsAt } : upcomingRenewal(group);
  const start = upcoming?.startsAt ?? null;
  const end = upcoming?.endsAt ?? null;
  const heartbeat = (name: string) => {
    const value = machineRows.get(name)?.lastheartbeatdate;
    return typeof value === 'string' ? Date.parse(value) : null;
  };
  const below = members.filter((m) => !takesPartInRenewals(m.agentVersion)).map((m) => m.name);
  const pending = members.filter((m) => m.status === 2).map((m) => m.name);
  const expired = members.filter((m) => m.status === 3).map((m) => m.name);
  const notSeen = renewal ? members.filter((m) => (heartbeat(m.name) ?? -Infinity) < renewal.startsAt).map((m) => m.name) : [];
  const connections = fleet.connectionsTargeting(group.name, members.map((m) => m.name));
  const newKey = renewal ? keyByVersion(group, renewal.newVersion) : undefined;
  const notReencrypted = renewal
    ? connections.filter((c) => !c.needsFix && !(newKey && c.ciphertexts.some((x) => x.thumbprint === newKey.thumbprint))).map((c) => c.name)
    : [];
  const toFix = connections.filter((c) => c.needsFix).map((c) => c.name);

  const reasons: string[] = [];
  let verdict: Verdict = 'OK';
  const worsen = (to: Verdict, reason: string) => {
    const order: Verdict[] = ['OK', 'at risk', 'will expire', 'expired'];
    if (order.indexOf(to) > order.indexOf(verdict)) verdict = to;
    reasons.push(reason);
  };
  const active = members.filter((m) => m.status !== 3);
  const able = active.filter((m) => takesPartInRenewals(m.agentVersion));
  if (group.lifecycle === 'expired') {
    worsen('expired', 'no machine renewed the key: the group cannot be used; delete it and create a new one');
  } else if (members.length === 0) {
    worsen('will expire', 'the group is empty: nobody can renew its key (the seed corner case)');
  } else if (active.length === 0) {
    // Microsoft: "If a machine group is empty or inactive during the renewal, its certificate will expire."
    worsen('will expire', `the group is inactive: every member (${expired.join(', ')}) is KeyExpired (Maintenance), so, like an empty group, nobody can renew its key; add or rejoin a machine with the current password, or delete the group`);
  } else if (able.length === 0) {
    worsen('will expire', 'no member can take part in a renewal (all below 2.23 or KeyExpired)');
  } else if (renewal && renewal.newVersion === null && notSeen.length === members.length) {
    worsen('at risk', 'no member has been online since the renewal window opened');
  }
  if (below.length > 0) worsen('at risk', `update Power Automate for desktop to 2.23 or above on ${below.join(', ')}`);
  if (pending.length > 0 && end !== null) worsen('at risk', `${pending.join(', ')} must come online before ${toIso(end)}`);
  if (expired.length > 0) worsen('at risk', `${expired.join(', ')} missed a renewal: regenerate the password on an up-to-date machine and rejoin them`);
  if (notReencrypted.length > 0 && end !== null) worsen('at risk', `run ${notReencrypted.join(', ')} before ${toIso(end)} or fix them afterwards`);
  if (toFix.length > 0) worsen('at risk', `fix connection ${toFix.join(', ')}: re-enter their credentials`);

  return {
    name: group.name,
    keyVersion: primary?.version ?? null,
    keyCreationDate: primary ? toIso(primary.createdAt) : null,
    keyExpiryDate: primary ? toIso(primary.notAfter) : null,
    renewing: renewal !== null,
    renewalStart: start === null ? null : toIso(start),
    renewalEnd: end === null ? null : toIso(end),
    machinesBelow223: below,
    pendingNewKey: pending,
    keyExpired: expired,
    notSeenSinceWindowOpened: notSeen,
    connectionsNotReencrypted: notReencrypted,
    connectionsToFix: toFix,
    inactive: members.length > 0 && active.length === 0,
    verdict,
    reasons,
  };
}

export async function readinessReport(store: EventStore, asOf?: Instant): Promise<ReadinessReport> {
  const fleet = await fleetAt(store, asOf);
  const { tables, instant } = await tablesAt(store, asOf === undefined ? {} : { asOf });
  const machineRows = new Map(tables.flowmachines.map((row) => [String(row.name), row]));
  const groups = fleet.groupNames().map((name) => groupReadiness(fleet.group(name)!, fleet, machineRows));
  return { asOf: instant, groups };
}
