/**
 * Reminders, from the tables as of a point in time (the seed's "Get reminded to put the machines
 * online during the renewal period"):
 * - per machine that still has to take its group's new key, the instant by which it must have been
 *   online (the renewal window's end E: a check-in exactly at E is too late, R15);
 * - per connection not yet encrypted to the group's new key, the instant by which it must run
 *   (the same E, R14: a run after the new key exists re-encrypts it; unused, it needs fixing).
 * Renewals under way come first ("due"); for a group whose next renewal is scheduled, every member
 * and connection gets an "upcoming" reminder for that window (S to E = min(notAfter, S + grace), R3).
 */
import type { Row } from '../../projections/index.js';
import { MS_PER_MINUTE, toIso } from '../domain/time.js';
import type { TablesSnapshot } from './context.js';

export interface MachineReminder {
  readonly machine: string;
  readonly machineId: string;
  readonly group: string;
  /** due: the renewal is under way; upcoming: it is scheduled. */
  readonly state: 'due' | 'upcoming';
  readonly windowStart: string;
  /** The machine must check in before this instant (the window's end). */
  readonly mustBeOnlineBy: string;
  readonly keydeliverystatus: number | null;
  readonly lastheartbeatdate: string | null;
}

export interface ConnectionReminder {
  readonly connection: string;
  readonly connectionId: string;
  readonly group: string;
  readonly targettype: string;
  readonly targetname: string;
  readonly state: 'due' | 'upcoming';
  readonly windowStart: string;
  /** The connection must run (after the new key exists) before this instant. */
  readonly mustRunBy: string;
  readonly lastuseddate: string | null;
}

export interface Reminders {
  readonly instant: string | null;
  readonly position: number;
  readonly machines: MachineReminder[];
  readonly connections: ConnectionReminder[];
}

interface Window {
  readonly group: Row;
  readonly state: 'due' | 'upcoming';
  readonly start: string;
  readonly end: string;
}

function windowOf(group: Row, renewalStarts: ReadonlyMap<string, string>): Window | null {
  if (group.statecode !== 0) return null;
  if (group.rekey_renewalstate === 'Renewing' && typeof group.rekey_renewalendsat === 'string') {
    const start = renewalStarts.get(String(group.flowmachinegroupid)) ?? String(group.rekey_nextrenewaldate ?? group.modifiedon);
    return { group, state: 'due', start, end: group.rekey_renewalendsat };
  }
  if (typeof group.rekey_nextrenewaldate !== 'string') return null;
  const start = Date.parse(group.rekey_nextrenewaldate);
  const graceEnd = start + Number(group.keyexpirygraceperiod) * MS_PER_MINUTE;
  const expiry = typeof group.rekey_keyexpirydate === 'string' ? Date.parse(group.rekey_keyexpirydate) : graceEnd;
  return { group, state: 'upcoming', start: group.rekey_nextrenewaldate, end: toIso(Math.min(expiry, graceEnd)) };
}

/**
 * `renewalStarts`: for each group under renewal (by id), the start S of that renewal (its
 * RenewalStarted); the row alone no longer shows it once the new key is issued (R22).
 */
export function remindersFrom(snapshot: TablesSnapshot, renewalStarts: ReadonlyMap<string, string> = new Map()): Reminders {
  const { flowmachinegroups: groups, flowmachines: machines, desktopflowconnections: connections } = snapshot.tables;
  const machineReminders: MachineReminder[] = [];
  const connectionReminders: ConnectionReminder[] = [];
  const groupOfMachine = new Map<string, Row>();
  for (const machine of machines) {
    const group = groups.find((g) => g.flowmachinegroupid === machine._flowmachinegroupid_value);
    if (group) groupOfMachine.set(String(machine.name), group);
  }
  for (const group of groups) {
    const window = windowOf(group, renewalStarts);
    if (!window) continue;
    const groupName = String(group.name);
    const newKey = window.state === 'due' && group.secondarypublickey !== null ? String(group.primarypublickey) : null;
    for (const machine of machines) {
      if (machine._flowmachinegroupid_value !== group.flowmachinegroupid) continue;
      const status = typeof machine.keydeliverystatus === 'number' ? machine.keydeliverystatus : null;
      // Due: only machines still PendingNewKey; upcoming: every member that can take part (not KeyExpired).
      if (window.state === 'due' ? status !== 2 : status === 3) continue;
      machineReminders.push({
        machine: String(machine.name),
        machineId: String(machine.flowmachineid),
        group: groupName,
        state: window.state,
        windowStart: window.start,
        mustBeOnlineBy: window.end,
        keydeliverystatus: status,
        lastheartbeatdate: typeof machine.lastheartbeatdate === 'string' ? machine.lastheartbeatdate : null,
      });
    }
    for (const connection of connections) {
      const target = connection.targettype === 'group' ? (connection.targetname === groupName ? group : undefined) : groupOfMachine.get(String(connection.targetname));
      if (target !== group || connection.status !== 'Connected') continue;
      const thumbprints = String(connection.keythumbprints ?? '').split(',');
      if (newKey !== null && thumbprints.includes(newKey)) continue; // already re-encrypted (R14)
      connectionReminders.push({
        connection: String(connection.name),
        connectionId: String(connection.connectionid),
        group: groupName,
        targettype: String(connection.targettype),
        targetname: String(connection.targetname),
        state: window.state,
        windowStart: window.start,
        mustRunBy: window.end,
        lastuseddate: typeof connection.lastuseddate === 'string' ? connection.lastuseddate : null,
      });
    }
  }
  const order = (a: { state: string; name: string; by: string }, b: { state: string; name: string; by: string }) =>
    (a.state === b.state ? 0 : a.state === 'due' ? -1 : 1) || a.by.localeCompare(b.by) || a.name.localeCompare(b.name);
  machineReminders.sort((a, b) => order({ state: a.state, name: a.machine, by: a.mustBeOnlineBy }, { state: b.state, name: b.machine, by: b.mustBeOnlineBy }));
  connectionReminders.sort((a, b) => order({ state: a.state, name: a.connection, by: a.mustRunBy }, { state: b.state, name: b.connection, by: b.mustRunBy }));
  return { instant: snapshot.instant, position: snapshot.position, machines: machineReminders, connections: connectionReminders };
}
