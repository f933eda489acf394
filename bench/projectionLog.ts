/**
 * A large, realistic event log for the projection benchmark and the crash test, written fast.
 *
 * Every event is decided by the real deciders (`decideGroup`, `decideConnection`) on state folded by
 * the real `evolve` functions, encoded by the engine's codec and appended through the SQLite store
 * (hash chain and all), so the log is one the engine could have written. What is skipped is the
 * engine's per-command overhead and the cryptography: certificates are one real PEM reused (with a
 * distinct synthetic thumbprint per key) and envelopes are random bytes of the real sizes. The
 * projection never opens either; only their size matters to it.
 *
 * The fleet: `groups` groups of `machinesPerGroup` machines (one per group on an agent too old to
 * renew, R8) and `connectionsPerGroup` connections each, with a 90-day validity and a 45-day grace,
 * so renewals come around every 45 days. Each simulated day every group acts at its own minute:
 * due times, machines going online or offline, check-ins that issue or take a renewal key, password
 * regeneration and rejoins after a miss, connection runs (re-encrypting during a window), fixes,
 * occasional settings changes, and a group whose key expired is deleted and created again.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createGroupCertificate, generateKeyPair } from '../src/crypto/index.js';
import type { Envelope } from '../src/kernel/envelope.js';
import type { ConnectionCommand } from '../src/domain/connection/commands.js';
import { decideConnection } from '../src/domain/connection/decide.js';
import { evolveConnection } from '../src/domain/connection/evolve.js';
import { initialConnectionState, type ConnectionState } from '../src/domain/connection/state.js';
import type { ConnectionEvent, GroupEvent, Timed } from '../src/domain/events.js';
import type { GroupCommand } from '../src/domain/group/commands.js';
import { decideGroup } from '../src/domain/group/decide.js';
import { evolveGroup } from '../src/domain/group/evolve.js';
import { initialGroupState, keyByVersion, liveKeys, primaryKey, type GroupState } from '../src/domain/group/state.js';
import { parseInstant, plusMinutes } from '../src/domain/time.js';
import { toNewEvent } from '../src/domain/codec.js';
import { openSqliteEventStore } from '../src/store/sqlite.js';
import { mulberry32 } from '../src/kernel/random.js';

export interface SyntheticLogOptions {
  readonly file: string;
  /** Stop once at least this many events are stored. */
  readonly events: number;
  readonly groups?: number;
  readonly machinesPerGroup?: number;
  readonly connectionsPerGroup?: number;
  readonly seed?: number;
  readonly onProgress?: (events: number) => void;
}

export interface SyntheticLogSummary {
  readonly events: number;
  readonly days: number;
  readonly groups: number;
  readonly machines: number;
  readonly connections: number;
  readonly first: string;
  readonly last: string;
  readonly seconds: number;
}

const START = parseInstant('2026-01-01T00:00:00Z');
const VALIDITY = 129_600;
const GRACE = 64_800;

interface GroupSlot {
  index: number;
  name: string;
  stream: string;
  state: GroupState;
  revision: number;
  generation: number;
  /** Decided but not yet appended: a group's events of one day go to the store in one append. */
  pending: Timed<GroupEvent>[];
}

interface ConnectionSlot {
  name: string;
  stream: string;
  group: number;
  state: ConnectionState;
  revision: number;
}


export async function writeSyntheticLog(options: SyntheticLogOptions): Promise<SyntheticLogSummary> {
  const started = performance.now();
  const groupCount = options.groups ?? 100;
  const perGroup = options.machinesPerGroup ?? 10;
  const connectionsPerGroup = options.connectionsPerGroup ?? 2;
  const random = mulberry32(options.seed ?? 42);
  const store = openSqliteEventStore({ file: options.file });
  const keyPair = await generateKeyPair();
  const pem = createGroupCertificate({ keyPair, groupName: 'filler', version: 1, notBefore: '2026-01-01T00:00:00Z', notAfter: '2031-01-01T00:00:00Z' }).pem;
  let thumbprintCounter = 0;
  const nextThumbprint = () => createHash('sha256').update(`key-${thumbprintCounter++}`).digest('hex').toUpperCase();
  const envelopeTo = (thumbprint: string): Envelope => ({
    alg: 'RSA-OAEP-256+A256GCM',
    thumbprint,
    encryptedKey: randomBytes(256).toString('base64'),
    iv: randomBytes(12).toString('base64'),
    tag: randomBytes(16).toString('base64'),
    ciphertext: randomBytes(72).toString('base64'),
  });

  let written = 0;
  let commandNo = 0;
  let reported = 0;
  let lastAt = START;
  const append = async (stream: string, revision: number, events: Timed<GroupEvent | ConnectionEvent>[]): Promise<number> => {
    if (events.length === 0) return revision;
    const commandId = `c-${commandNo++}`;
    await store.append(stream, events.map((event) => toNewEvent(event, { commandId, correlationId: commandId })), revision);
    written += events.length;
    lastAt = events[events.length - 1]!.at;
    if (options.onProgress && written - reported >= 50_000) {
      reported = written;
      options.onProgress(written);
    }
    return revision + events.length;
  };

  const groups: GroupSlot[] = [];
  const connections: ConnectionSlot[] = [];
  const machineName = (g: number, m: number) => `G${String(g).padStart(3, '0')}-M${String(m).padStart(2, '0')}`;
  const versionOf = (m: number) => (m === perGroup - 1 ? '2.22.0.0' : '2.23.116.23040');

  const groupDo = async (slot: GroupSlot, at: number, command: Record<string, unknown>): Promise<Timed<GroupEvent>[]> => {
    let events: Timed<GroupEvent>[];
    try {
      events = decideGroup({ ...command, at } as GroupCommand, slot.state);
    } catch {
      return []; // refused: nothing recorded, as the engine would report it
    }
    for (const event of events) slot.state = evolveGroup(slot.state, event);
    slot.pending.push(...events);
    if (events.some((event) => event.type === 'KeyExpired' || event.type === 'GroupKeyExpired' || event.type === 'GroupDeleted')) {
      await reconcile(slot, at);
    }
    return events;
  };

  const flush = async (slot: GroupSlot): Promise<void> => {
    const events = slot.pending.splice(0);
    slot.revision = await append(slot.stream, slot.revision, events);
  };

  const connectionDo = async (slot: ConnectionSlot, at: number, command: Record<string, unknown>): Promise<void> => {
    await flush(groups[slot.group]!); // the group's facts come first in the log
    let events: Timed<ConnectionEvent>[];
    try {
      events = decideConnection({ ...command, at } as ConnectionCommand, slot.state);
    } catch {
      return;
    }
    for (const event of events) slot.state = evolveConnection(slot.state, event);
    slot.revision = await append(slot.stream, slot.revision, events);
  };

  const live = (slot: GroupSlot) => liveKeys(slot.state).map((key) => key.thumbprint);

  const reconcile = async (slot: GroupSlot, at: number) => {
    const thumbprints = slot.state.lifecycle === 'active' ? live(slot) : [];
    for (const connection of connections) {
      if (connection.group !== slot.index || !connection.state.exists) continue;
      await connectionDo(connection, at, { type: 'Reconcile', liveThumbprints: thumbprints, reason: 'its keys retired' });
    }
  };

  const createGroup = async (slot: GroupSlot, at: number) => {
    await flush(slot);
    slot.generation++;
    slot.stream = `group-g${slot.index}-${slot.generation}`;
    slot.state = initialGroupState;
    slot.revision = -1;
    await groupDo(slot, at, { type: 'CreateGroup', groupId: `g${slot.index}-${slot.generation}`, name: slot.name, keyValidityPeriod: VALIDITY, keyExpiryGracePeriod: GRACE });
    for (let m = 0; m < perGroup; m++) {
      const machine = machineName(slot.index, m);
      const primary = primaryKey(slot.state);
      const credential = primary
        ? { kind: 'password', keyThumbprint: primary.thumbprint }
        : { kind: 'firstKey', certificate: { pem, thumbprint: nextThumbprint(), notBefore: at, notAfter: plusMinutes(at, slot.state.effective.validity) }, passwordPackage: 'MIIK'.padEnd(3_400, 'A') };
      await groupDo(slot, at, { type: 'JoinMachine', machineId: `m-${machine}`, machine, agentVersion: versionOf(m), credential, memberOfGroup: null });
    }
  };

  let day = 0;
  for (; written < options.events; day++) {
    for (let g = 0; g < groupCount && written < options.events; g++) {
      for (const other of groups) if (other.pending.length > 0) await flush(other);
      const at = plusMinutes(START, day * 1440 + g * 7);
      if (day === 0) {
        const slot: GroupSlot = { index: g, name: `Group-${String(g).padStart(3, '0')}`, stream: '', state: initialGroupState, revision: -1, generation: 0, pending: [] };
        groups.push(slot);
        await createGroup(slot, at);
        for (let c = 0; c < connectionsPerGroup; c++) {
          const connectionId = `c${g}-${c}`;
          const connection: ConnectionSlot = { name: `Conn-${String(g).padStart(3, '0')}-${c}`, stream: `connection-${connectionId}`, group: g, state: initialConnectionState, revision: -1 };
          connections.push(connection);
          const thumbprints = live(slot);
          await connectionDo(connection, at, { type: 'CreateConnection', connectionId, name: connection.name, target: { type: 'group', name: slot.name }, ciphertexts: thumbprints.map(envelopeTo), liveThumbprints: thumbprints });
        }
        continue;
      }
      const slot = groups[g]!;
      await groupDo(slot, at, { type: 'ProcessDue' });
      if (slot.state.lifecycle === 'expired') {
        // R16: only deletion remains; the admin deletes it and creates it again.
        await groupDo(slot, at, { type: 'DeleteGroup' });
        await createGroup(slot, at);
        for (const connection of connections) {
          if (connection.group !== g) continue;
          const thumbprints = live(slot);
          await connectionDo(connection, at, { type: 'FixConnection', ciphertexts: thumbprints.map(envelopeTo), liveThumbprints: thumbprints });
        }
        continue;
      }
      // Sessions: machines go offline and come back.
      for (let m = 0; m < perGroup; m++) {
        const machine = machineName(g, m);
        const member = slot.state.members[machine];
        if (!member || random() >= 0.3) continue;
        await groupDo(slot, at, member.connected ? { type: 'DisconnectMachine', machine } : { type: 'ConnectMachine', machine, checkInIntervalMinutes: 1440 });
      }
      // Check-ins of online members during a renewal (R11, R12).
      for (let m = 0; m < perGroup; m++) {
        const machine = machineName(g, m);
        const member = slot.state.members[machine];
        const renewal = slot.state.renewal;
        if (!member || !member.connected || !renewal || member.status === 3) continue;
        if (renewal.newVersion === null) {
          const wrapped = envelopeTo(keyByVersion(slot.state, renewal.oldVersion)!.thumbprint);
          await groupDo(slot, at, { type: 'IssueRenewalKey', machine, certificate: { pem, thumbprint: nextThumbprint(), notBefore: at, notAfter: plusMinutes(at, slot.state.effective.validity) }, wrappedUnderPrevious: wrapped });
        } else {
          await groupDo(slot, at, { type: 'AcceptNewKey', machine });
        }
      }
      // After a miss: regenerate the password on a holder of the primary key, then rejoin (R17).
      const expiredMembers = Object.values(slot.state.members).filter((member) => member.status === 3 && member.connected);
      if (expiredMembers.length > 0) {
        const primary = primaryKey(slot.state)!;
        if (slot.state.passwordPackageThumbprint !== primary.thumbprint || slot.state.securityUpdatedSinceRegeneration) {
          const holder = Object.values(slot.state.members).find((member) => member.connected && member.status !== 3 && member.keyVersions.includes(primary.version));
          if (holder) await groupDo(slot, at, { type: 'RegeneratePassword', machine: holder.name, packageThumbprint: primary.thumbprint, passwordPackage: 'MIIK'.padEnd(3_400, 'B') });
        }
        if (!slot.state.securityUpdatedSinceRegeneration) {
          for (const member of expiredMembers) {
            await groupDo(slot, at, { type: 'RejoinMachine', machine: member.name, agentVersion: '2.23.116.23040', keyThumbprint: primary.thumbprint });
          }
        }
      }
      // Now and then an admin changes the settings (R1, R2, R4, R5).
      if (random() < 0.002) {
        await groupDo(slot, at, { type: 'SetKeyValidityPeriod', minutes: 1440 * (90 + Math.floor(random() * 90)), pickupDelayMinutes: 1440 });
      }
      // Connection runs (R13, R14) and fixes (R18).
      const thumbprints = live(slot);
      for (const connection of connections) {
        if (connection.group !== g) continue;
        if (connection.state.needsFix) {
          if (random() < 0.2 && thumbprints.length > 0) {
            await connectionDo(connection, at, { type: 'FixConnection', ciphertexts: thumbprints.map(envelopeTo), liveThumbprints: thumbprints });
          }
          continue;
        }
        if (random() < 0.3) continue;
        const runner = Object.values(slot.state.members).find((member) => member.connected && member.status !== 3 &&
          member.keyVersions.some((version) => connection.state.ciphertexts.some((c) => c.thumbprint === keyByVersion(slot.state, version)?.thumbprint)));
        if (!runner) continue;
        const held = runner.keyVersions.map((version) => keyByVersion(slot.state, version)!.thumbprint).filter((t) => thumbprints.includes(t));
        const usable = held.filter((t) => connection.state.ciphertexts.some((c) => c.thumbprint === t));
        const missing = held.find((t) => !connection.state.ciphertexts.some((c) => c.thumbprint === t));
        await connectionDo(connection, at, {
          type: 'RecordRun', machine: runner.name, keyThumbprint: usable[usable.length - 1], reencrypted: missing ? envelopeTo(missing) : null, liveThumbprints: thumbprints,
        });
      }
    }
  }
  for (const other of groups) if (other.pending.length > 0) await flush(other);
  await store.close();
  return {
    events: written,
    days: day,
    groups: groupCount,
    machines: groupCount * perGroup,
    connections: connections.length,
    first: new Date(START).toISOString(),
    last: new Date(lastAt).toISOString(),
    seconds: Math.round(performance.now() - started) / 1000,
  };
}
