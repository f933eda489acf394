/**
 * The facts a group's timeline draws, read from the log as of a point in time: every key's lifetime,
 * every renewal window, each member's online sessions (MachineJoined/Connected/Disconnected/Left) and
 * the moments it issued, took or lost a key, and the runs, failures, re-encryptions and fixes of the
 * connections that target the group or one of its members. Plus, from the group's row, the next
 * renewal window and the next key's lifetime as they are scheduled now.
 */
import { ROW_NOT_FOUND, type PointInTime, type ReadModel, type Row } from '../../projections/index.js';
import { RekeyError } from '../kernel/errors.js';
import { toIso, MS_PER_MINUTE, type Instant } from '../domain/time.js';
import { connectionStream, groupStream } from '../domain/streams.js';
import type { RecordedEvent } from '../store/port.js';
import type { TablesSnapshot } from './context.js';

export interface TimelineKey {
  readonly version: number;
  readonly thumbprint: string;
  readonly createdAt: string;
  readonly notAfter: string;
  readonly validityMinutes: number;
  readonly issuedBy: string;
  /** When it retired (KeyExpired), null while live. */
  readonly retiredAt: string | null;
}

export interface TimelineWindow {
  /** The key being renewed. */
  readonly keyVersion: number;
  readonly startsAt: string;
  readonly endsAt: string;
  readonly newVersion: number | null;
  readonly issuedAt: string | null;
  readonly issuedBy: string | null;
}

export interface TimelineMachine {
  readonly name: string;
  /** Online sessions, half-open; `to` null while it lasts. */
  readonly sessions: { from: string; to: string | null }[];
  readonly marks: { at: string; kind: 'joined' | 'issued' | 'received' | 'expired' | 'rejoined' | 'left'; keyVersion?: number }[];
}

export interface TimelineConnection {
  readonly name: string;
  readonly targettype: string;
  readonly targetname: string;
  readonly status: string;
  readonly createdAt: string | null;
  readonly runs: { at: string; machine: string }[];
  readonly failures: { at: string; code: string }[];
  readonly reencryptions: { at: string; machine: string; proactive: boolean }[];
  readonly needsFix: { at: string; reason: string }[];
  readonly fixed: string[];
}

export interface Timeline {
  readonly group: string;
  readonly groupId: string;
  /** The instant the timeline is drawn at (its "now"), and the log position it includes. */
  readonly instant: string | null;
  readonly position: number;
  readonly row: Row;
  readonly keys: TimelineKey[];
  readonly windows: TimelineWindow[];
  /** Scheduled from the group's row: the next renewal window and the next key, if no renewal is under way. */
  readonly next: { readonly window: { startsAt: string; endsAt: string } | null; readonly key: { createdAt: string; notAfter: string } | null };
  readonly machines: TimelineMachine[];
  readonly connections: TimelineConnection[];
  /** Group-level facts: settings changes and pickups, password regenerations, expiry, deletion. */
  readonly events: { at: string; type: string; detail?: string }[];
}

function iso(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

export async function buildTimeline(readModel: ReadModel, snapshot: TablesSnapshot, point: PointInTime, nameOrId: string): Promise<Timeline> {
  const groups = snapshot.tables.flowmachinegroups;
  const row = groups.find((r) => r.flowmachinegroupid === nameOrId) ?? groups.find((r) => r.name === nameOrId) ??
    groups.find((r) => String(r.name).toLowerCase() === nameOrId.toLowerCase());
  if (!row) {
    throw new RekeyError(ROW_NOT_FOUND, `no machine group has the id or name ${JSON.stringify(nameOrId)} as of position ${snapshot.position}`, { nameOrId }, 'not_found');
  }
  const groupId = String(row.flowmachinegroupid);
  const groupName = String(row.name);
  const limitInstant = point.asOf !== undefined ? Number(point.asOf) : null;
  const included = (event: RecordedEvent) => event.position <= snapshot.position &&
    (limitInstant === null || Date.parse(event.metadata.occurredAt) <= limitInstant);

  const groupEvents = (await readModel.store.readStream(groupStream(groupId))).filter(included);
  const keys = new Map<number, { key: TimelineKey; retiredAt: string | null }>();
  const windows: TimelineWindow[] = [];
  const machines = new Map<string, { sessions: { from: string; to: string | null }[]; open: string | null; marks: TimelineMachine['marks'] }>();
  const events: Timeline['events'] = [];
  const machine = (name: string) => {
    let entry = machines.get(name);
    if (!entry) machines.set(name, (entry = { sessions: [], open: null, marks: [] }));
    return entry;
  };
  const close = (name: string, at: string) => {
    const entry = machine(name);
    if (entry.open !== null) {
      if (entry.open < at) entry.sessions.push({ from: entry.open, to: at });
      entry.open = null;
    }
  };

  for (const event of groupEvents) {
    const at = event.metadata.occurredAt;
    const data = event.data as Record<string, unknown>;
    switch (event.type) {
      case 'KeyIssued': {
        const version = Number(data.version);
        keys.set(version, {
          key: {
            version,
            thumbprint: String(data.thumbprint),
            createdAt: String(data.createdAt),
            notAfter: String(data.notAfter),
            validityMinutes: Number(data.validityMinutes),
            issuedBy: String(data.issuedBy),
            retiredAt: null,
          },
          retiredAt: null,
        });
        const window = windows.at(-1);
        if (window && window.newVersion === null && version > window.keyVersion) {
          windows[windows.length - 1] = { ...window, newVersion: version, issuedAt: at, issuedBy: String(data.issuedBy) };
        }
        machine(String(data.issuedBy)).marks.push({ at, kind: 'issued', keyVersion: version });
        break;
      }
      case 'KeyExpired': {
        const entry = keys.get(Number(data.keyVersion));
        if (entry) entry.retiredAt = at;
        break;
      }
      case 'RenewalStarted':
        windows.push({ keyVersion: Number(data.keyVersion), startsAt: String(data.startsAt), endsAt: String(data.endsAt), newVersion: null, issuedAt: null, issuedBy: null });
        break;
      case 'MachineJoined': {
        const entry = machine(String(data.machine));
        entry.marks.push({ at, kind: 'joined' });
        if (entry.open === null) entry.open = at;
        break;
      }
      case 'MachineRejoined':
        machine(String(data.machine)).marks.push({ at, kind: 'rejoined' });
        break;
      case 'MachineConnected': {
        const entry = machine(String(data.machine));
        if (entry.open === null) entry.open = at;
        break;
      }
      case 'MachineDisconnected':
        close(String(data.machine), at);
        break;
      case 'MachineLeft':
        close(String(data.machine), at);
        machine(String(data.machine)).marks.push({ at, kind: 'left' });
        break;
      case 'MachineKeyDelivered':
        machine(String(data.machine)).marks.push({ at, kind: 'received', keyVersion: Number(data.keyVersion) });
        break;
      case 'MachineKeyExpired':
        machine(String(data.machine)).marks.push({ at, kind: 'expired', keyVersion: Number(data.keyVersion) });
        break;
      case 'GroupKeyExpired':
      case 'GroupDeleted':
      case 'GroupPasswordRegenerated':
        events.push({ at, type: event.type, ...(data.machine ? { detail: String(data.machine) } : {}) });
        break;
      case 'KeyValidityPeriodChanged':
      case 'KeyExpiryGracePeriodChanged':
        events.push({ at, type: event.type, detail: `${Number(data.minutes)} minutes` });
        break;
      case 'SettingsPickedUp':
      case 'ProactiveReencryptionChanged':
        events.push({ at, type: event.type });
        break;
      default:
        break;
    }
  }
  for (const [name, entry] of machines) if (entry.open !== null) entry.sessions.push({ from: entry.open, to: null }), (machine(name).open = null);

  // Connections that target the group, or one of its members alone.
  const memberNames = new Set(snapshot.tables.flowmachines.filter((m) => m._flowmachinegroupid_value === groupId).map((m) => String(m.name)));
  const targeting = snapshot.tables.desktopflowconnections.filter((c) =>
    (c.targettype === 'group' && c.targetname === groupName) || (c.targettype === 'machine' && memberNames.has(String(c.targetname))));
  const connections: TimelineConnection[] = [];
  for (const connection of targeting) {
    const stream = connectionStream(String(connection.connectionid));
    const entry: TimelineConnection = {
      name: String(connection.name),
      targettype: String(connection.targettype),
      targetname: String(connection.targetname),
      status: String(connection.status),
      createdAt: null,
      runs: [],
      failures: [],
      reencryptions: [],
      needsFix: [],
      fixed: [],
    };
    let createdAt: string | null = null;
    for (const event of (await readModel.store.readStream(stream)).filter(included)) {
      const at = event.metadata.occurredAt;
      const data = event.data as Record<string, unknown>;
      if (event.type === 'ConnectionCreated') createdAt = at;
      else if (event.type === 'ConnectionRun') entry.runs.push({ at, machine: String(data.machine) });
      else if (event.type === 'ConnectionRunFailed') entry.failures.push({ at, code: String(data.code) });
      else if (event.type === 'ConnectionReencrypted') entry.reencryptions.push({ at, machine: String(data.machine), proactive: data.proactive === true });
      else if (event.type === 'ConnectionNeedsFix') entry.needsFix.push({ at, reason: String(data.reason) });
      else if (event.type === 'ConnectionFixed') entry.fixed.push(at);
    }
    connections.push({ ...entry, createdAt });
  }

  // The next window and key as scheduled now (R3): S from the row, E = min(notAfter, S + grace).
  let next: Timeline['next'] = { window: null, key: null };
  const nextStart = iso(row.rekey_nextrenewaldate);
  if (row.rekey_renewalstate === 'None' && nextStart !== null) {
    const start = Date.parse(nextStart);
    const expiry = iso(row.rekey_keyexpirydate);
    const grace = Number(row.keyexpirygraceperiod) * MS_PER_MINUTE;
    const end: Instant = expiry === null ? start + grace : Math.min(Date.parse(expiry), start + grace);
    next = {
      window: { startsAt: nextStart, endsAt: toIso(end) },
      key: { createdAt: nextStart, notAfter: toIso(start + Number(row.keyvalidityperiod) * MS_PER_MINUTE) },
    };
  }

  return {
    group: groupName,
    groupId,
    instant: snapshot.instant,
    position: snapshot.position,
    row,
    keys: [...keys.values()].sort((a, b) => a.key.version - b.key.version).map(({ key, retiredAt }) => ({ ...key, retiredAt })),
    windows,
    next,
    machines: [...machines.entries()]
      .filter(([name]) => memberNames.has(name) || machines.get(name)!.sessions.length > 0)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, entry]) => ({ name, sessions: entry.sessions, marks: entry.marks })),
    connections: connections.sort((a, b) => a.name.localeCompare(b.name)),
    events,
  };
}
