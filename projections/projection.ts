/**
 * The projection: a deterministic fold of recorded events into the three tables. Aggregate state is
 * folded per stream by the domain's own `evolveGroup` and `evolveConnection` (no rule is written
 * twice); rows are rendered from that state by `rows.ts`. For every event it works out which rows
 * changed by rendering each touched row at the event's instant before and after the event, which
 * gives the change feed, `modifiedon` and the `@odata.etag` version in one go.
 *
 * No I/O, no clock: the same events in the same order always give the same rows and changes.
 * Payloads that no column shows (certificate PEMs, wrapped keys, password packages, ciphertext
 * bytes) are dropped before folding, so the state stays small and holds no key material at all.
 *
 * This file is the fold (`Projection`: state per stream, row changes, snapshots). Beside it, in
 * projection/: changes.ts (the shapes it hands out), slim.ts (the payloads dropped), memberEvents.ts
 * (which members an event touches), groupState.ts (group state comparisons and key compaction) and
 * rowOrder.ts (the order of every table).
 */
import { evolveConnection } from '../src/domain/connection/evolve.js';
import { initialConnectionState, type ConnectionState } from '../src/domain/connection/state.js';
import type { ConnectionEvent, GroupEvent, MachineEvent, Timed } from '../src/domain/events.js';
import { evolveGroup } from '../src/domain/group/evolve.js';
import { copyOnWrite, inPlace as inPlaceWrites } from '../src/domain/group/memberWrites.js';
import { initialGroupState, memberOf, type GroupState, type Member } from '../src/domain/group/state.js';
import type { Instant } from '../src/domain/time.js';
import { toDomainEvent } from '../src/domain/codec.js';
import { streamKind } from '../src/domain/streams.js';
import type { RecordedEvent } from '../src/store/port.js';
import { checkedIn, endSession, NO_HEARTBEAT, startSession } from './heartbeat.js';
import {
  buildRow,
  connectionValues,
  groupValues,
  MACHINE_HEARTBEAT,
  machineValues,
  nextRenewalDate,
  VALUE_COLUMNS,
  type MachineFacts,
  type RowMeta,
  type RowValues,
} from './rows.js';
import { heartbeatAt } from './heartbeat.js';
import { COLUMNS, TABLES, type Row, type TableName } from './tables.js';
import type { ChangeSink, ChangeType, PersistedRow, RowChange } from './projection/changes.js';
import { compactKeys, onlyMembersDiffer, sameSchedule } from './projection/groupState.js';
import { checkInOf, memberNamedBy, SINGLE_MEMBER_EVENTS } from './projection/memberEvents.js';
import { byNameThenId } from './projection/rowOrder.js';
import { slim } from './projection/slim.js';
import { packObjects, unpackObjects, type PackedObjects } from './projection/packedObjects.js';

export type { ChangeSink, ChangeType, PersistedRow, RowChange } from './projection/changes.js';

/**
 * What the fold reads of a recorded event: all of it but the metadata, of which only `occurredAt`
 * (the catch-up's helper thread sends no more, readModel/catchUpThread.ts).
 */
export type FoldedEvent = Omit<RecordedEvent, 'metadata'> & { readonly metadata: { readonly occurredAt: string } };
export { byNameThenId } from './projection/rowOrder.js';

/**
 * Bump when a change to this folder changes any row, change or snapshot for the same log: a read
 * model written by another version rebuilds itself from position 0 when it is opened.
 */
export const PROJECTION_VERSION = 3;

interface Context {
  readonly position: number;
  readonly at: Instant;
  readonly occurredAt: string;
  readonly event: string;
  readonly sink: ChangeSink | undefined;
}

interface NextRenewalMemo {
  readonly state: GroupState;
  readonly value: Instant | null;
}

export class Projection {
  /** Position of the last event applied (0 before any). */
  position = 0;
  /** The latest occurredAt applied (null before any event): the instant "now" of the tables. */
  instant: Instant | null = null;

  private readonly groups = new Map<string, GroupState>();
  private readonly connections = new Map<string, ConnectionState>();
  private readonly machines = new Map<string, MachineFacts>();
  private readonly meta: Record<TableName, Map<string, RowMeta>> = {
    flowmachinegroups: new Map(),
    flowmachines: new Map(),
    desktopflowconnections: new Map(),
  };
  /** The values each row was last computed with (for machines, `lastheartbeatdate` as of that moment). */
  private readonly cache: Record<TableName, Map<string, RowValues>> = {
    flowmachinegroups: new Map(),
    flowmachines: new Map(),
    desktopflowconnections: new Map(),
  };
  private readonly groupStreamById = new Map<string, string>();
  private readonly connectionStreamById = new Map<string, string>();
  private readonly nextRenewalMemo = new Map<string, NextRenewalMemo>();
  /** Rows changed since the last `drainDirty`. */
  private readonly dirty: Record<TableName, Set<string>> = {
    flowmachinegroups: new Set(),
    flowmachines: new Set(),
    desktopflowconnections: new Set(),
  };
  /** The last row of every deleted row, so that its history can still be found by name. */
  private readonly tombstones: Record<TableName, Map<string, { row: Row; streams: string[] }>> = {
    flowmachinegroups: new Map(),
    flowmachines: new Map(),
    desktopflowconnections: new Map(),
  };
  /** Whether to remember changed rows for `drainDirty` (the read model's runner does). */
  trackDirty = false;
  /**
   * Whether to drop, from this projection's copy of each group's state, the keys that retired and are
   * not the primary (see `compactKeys`). On by default; tests turn it off to check it changes nothing.
   */
  readonly compact: boolean;
  /**
   * Whether an event that changes one member writes it into this projection's own members record
   * (O(1) per event) instead of copying the record (O(members)). On by default; tests turn it off to
   * check that the rows and changes are the same.
   */
  readonly membersInPlace: boolean;

  constructor(options: { compact?: boolean; membersInPlace?: boolean } = {}) {
    this.compact = options.compact ?? true;
    this.membersInPlace = options.membersInPlace ?? true;
  }

  /**
   * Applies one recorded event. Positions must increase (gaps are allowed: a row's history folds only
   * the streams that touch it). `sink` receives the row changes the event makes, in table order,
   * then by name.
   */
  apply(recorded: FoldedEvent, sink?: ChangeSink): void {
    if (recorded.position <= this.position) {
      throw new Error(`projection is at position ${this.position}; cannot apply position ${recorded.position} again`);
    }
    const event = slim(toDomainEvent(recorded));
    this.position = recorded.position;
    if (this.instant === null || event.at > this.instant) this.instant = event.at;
    const ctx: Context = { position: recorded.position, at: event.at, occurredAt: recorded.metadata.occurredAt, event: recorded.type, sink };
    switch (streamKind(recorded.stream)) {
      case 'group':
        this.applyGroup(recorded.stream, event as Timed<GroupEvent>, ctx);
        break;
      case 'connection':
        this.applyConnection(recorded.stream, event as Timed<ConnectionEvent>, ctx);
        break;
      case 'machine':
        this.applyMachine(recorded.stream, event as Timed<MachineEvent>, ctx);
        break;
      default:
        break; // streams of other tools sharing the store show in no table
    }
  }

  // ---- reading ---------------------------------------------------------------------------------

  /** Every row of a table rendered at `at` (default: the latest instant applied), by name then id. */
  rows(table: TableName, at: Instant | null = this.instant): Row[] {
    const rows: Row[] = [];
    for (const id of this.meta[table].keys()) {
      const row = this.row(table, id, at);
      if (row) rows.push(row);
    }
    const idColumn = COLUMNS[table][0]!;
    return rows.sort((a, b) => byNameThenId(a, b, idColumn));
  }

  tables(at: Instant | null = this.instant): Record<TableName, Row[]> {
    return { flowmachinegroups: this.rows('flowmachinegroups', at), flowmachines: this.rows('flowmachines', at), desktopflowconnections: this.rows('desktopflowconnections', at) };
  }

  row(table: TableName, id: string, at: Instant | null = this.instant): Row | undefined {
    const meta = this.meta[table].get(id);
    if (!meta) return undefined;
    switch (table) {
      case 'flowmachinegroups': {
        const stream = this.groupStreamById.get(id);
        const state = stream === undefined ? undefined : this.groups.get(stream);
        const values = state ? groupValues(state, this.nextRenewal(stream!, state)) : null;
        return values ? buildRow(table, values, meta) : undefined;
      }
      case 'flowmachines': {
        const facts = this.machines.get(id);
        return facts ? buildRow(table, machineValues(facts, this.groupOf(facts), at ?? meta.modifiedOn), meta) : undefined;
      }
      case 'desktopflowconnections': {
        const stream = this.connectionStreamById.get(id);
        const state = stream === undefined ? undefined : this.connections.get(stream);
        const values = state ? connectionValues(state) : null;
        return values ? buildRow(table, values, meta) : undefined;
      }
    }
  }

  /** The streams whose events change this row (its history reads only those). */
  streamsOf(table: TableName, id: string): string[] {
    switch (table) {
      case 'flowmachinegroups': {
        const stream = this.groupStreamById.get(id);
        return stream === undefined ? [] : [stream];
      }
      case 'flowmachines':
        return [...(this.machines.get(id)?.streams ?? [])];
      case 'desktopflowconnections': {
        const stream = this.connectionStreamById.get(id);
        return stream === undefined ? [] : [stream];
      }
    }
  }

  /** Rows changed since the last call (or, with `all`, every row), as the read model stores them. */
  drainDirty(all = false): PersistedRow[] {
    const out: PersistedRow[] = [];
    for (const table of TABLES) {
      const ids = all ? [...this.meta[table].keys(), ...this.tombstones[table].keys()] : this.dirty[table];
      for (const id of ids) {
        const persisted = this.persisted(table, id);
        if (persisted) out.push(persisted);
      }
      this.dirty[table].clear();
    }
    return out;
  }

  private persisted(table: TableName, id: string): PersistedRow | undefined {
    const row = this.row(table, id);
    if (row) {
      const facts = table === 'flowmachines' ? this.machines.get(id) : undefined;
      return { table, id, name: String(row.name), deleted: false, row, heartbeat: facts ? facts.heartbeat : null, streams: this.streamsOf(table, id) };
    }
    const tombstone = this.tombstones[table].get(id);
    return tombstone && { table, id, name: String(tombstone.row.name), deleted: true, row: tombstone.row, heartbeat: null, streams: tombstone.streams };
  }

  // ---- snapshots -------------------------------------------------------------------------------

  /**
   * The whole state as JSON (plain data, no key material). Lists of same-shaped objects are packed
   * (projection/packedObjects.ts): the keys once, then values; `restore` gives back the same state.
   */
  serialize(): string {
    const groupStreams = [...this.groups.keys()];
    // `members` stays in its place in each state (null here), so a restored state has the same key order.
    const groupStates = [...this.groups.values()].map((state) => ({ ...state, members: null }));
    const groupMembers = [...this.groups.values()].map((state) => ({ names: Object.keys(state.members), members: packObjects(Object.values(state.members)) }));
    const entries = <V extends object>(map: Map<string, V>) => ({ keys: [...map.keys()], values: packObjects([...map.values()]) });
    return JSON.stringify({
      version: PROJECTION_VERSION,
      position: this.position,
      instant: this.instant,
      groups: { streams: groupStreams, states: packObjects(groupStates), members: groupMembers },
      connections: entries(this.connections),
      machines: entries(this.machines),
      meta: Object.fromEntries(TABLES.map((table) => [table, entries(this.meta[table])])),
      tombstones: Object.fromEntries(TABLES.map((table) => [table, [...this.tombstones[table]]])),
    });
  }

  static restore(json: string, options: { compact?: boolean; membersInPlace?: boolean } = {}): Projection {
    type Entries<V> = { keys: string[]; values: PackedObjects<V> };
    const data = JSON.parse(json) as {
      version: number;
      position: number;
      instant: Instant | null;
      groups: { streams: string[]; states: PackedObjects<Omit<GroupState, 'members'> & { members: unknown }>; members: { names: string[]; members: PackedObjects<Member> }[] };
      connections: Entries<ConnectionState>;
      machines: Entries<MachineFacts>;
      meta: Record<TableName, Entries<RowMeta>>;
      tombstones: Record<TableName, [string, { row: Row; streams: string[] }][]>;
    };
    if (data.version !== PROJECTION_VERSION) {
      throw new Error(`projection snapshot has version ${data.version}; this code reads version ${PROJECTION_VERSION}`);
    }
    const projection = new Projection(options);
    projection.position = data.position;
    projection.instant = data.instant;
    const groupStates = unpackObjects(data.groups.states);
    data.groups.streams.forEach((stream, i) => {
      const { names, members: packed } = data.groups.members[i]!;
      const list = unpackObjects(packed);
      // fromEntries defines own properties, so even a member named __proto__ comes back as a member.
      const members: Record<string, Member> = Object.fromEntries(names.map((name, m) => [name, list[m]!]));
      const state = groupStates[i]!; // a fresh object: its `members` (null) is replaced in place
      state.members = members;
      projection.groups.set(stream, state as GroupState);
      if (state.groupId !== '') projection.groupStreamById.set(state.groupId, stream);
    });
    const fill = <V>(map: Map<string, V>, entries: Entries<V>) => {
      const values = unpackObjects(entries.values);
      entries.keys.forEach((key, i) => map.set(key, values[i]!));
    };
    fill(projection.connections, data.connections);
    for (const [stream, state] of projection.connections) {
      if (state.exists) projection.connectionStreamById.set(state.connectionId, stream);
    }
    fill(projection.machines, data.machines);
    for (const table of TABLES) {
      fill(projection.meta[table], data.meta[table]);
      for (const [id, tombstone] of data.tombstones[table]) projection.tombstones[table].set(id, tombstone);
    }
    return projection;
  }

  // ---- folding ---------------------------------------------------------------------------------

  private groupOf(facts: MachineFacts): GroupState | undefined {
    return facts.groupStream === null ? undefined : this.groups.get(facts.groupStream);
  }

  private nextRenewal(stream: string, state: GroupState): Instant | null {
    const memo = this.nextRenewalMemo.get(stream);
    if (memo && sameSchedule(memo.state, state)) return memo.value;
    const value = nextRenewalDate(state);
    this.nextRenewalMemo.set(stream, { state, value });
    return value;
  }

  private applyGroup(stream: string, event: Timed<GroupEvent>, ctx: Context): void {
    const before = this.groups.get(stream) ?? initialGroupState;
    // An event that changes one named member is folded with that member written in place (O(1),
    // memberWrites.ts): what its row is compared against is taken before folding, since `before`
    // then shares the members record with `after`. Any other event builds a new record.
    const single = SINGLE_MEMBER_EVENTS.has(event.type) ? memberNamedBy(event) : undefined;
    const inPlace = this.membersInPlace && single !== undefined;
    const oldSingle = single === undefined ? undefined : memberOf(before, single);
    if (inPlace && oldSingle) this.keepMachineValues(oldSingle.machineId, stream, before, ctx.at);
    const evolved = evolveGroup(before, event, inPlace ? inPlaceWrites : copyOnWrite);
    const after = this.compact && evolved.keys !== before.keys ? compactKeys(evolved) : evolved;
    this.groups.set(stream, after);
    if (event.type === 'GroupCreated' || event.type === 'GroupImported') this.groupStreamById.set(after.groupId, stream);

    if (after !== before && !onlyMembersDiffer(before, after)) {
      const id = after.groupId || before.groupId;
      const meta = this.meta.flowmachinegroups.get(id);
      const old = meta ? this.cache.flowmachinegroups.get(id) ?? groupValues(before, nextRenewalDate(before)) : null;
      this.settle('flowmachinegroups', id, ctx, meta, old, groupValues(after, this.nextRenewal(stream, after)), null, false);
    }

    // The machines whose rows may change: members that changed, joined or left, and the one whose
    // session or check-in the event records (R21).
    const checkIn = checkInOf(event);
    // rekey import: a member's last heartbeat is as observed, not the import instant.
    const imported = event.type === 'MachineImported' ? event.data : undefined;
    const heartbeatOf = (name: string) => (imported?.machine === name ? imported.lastHeartbeatAt : undefined);
    if (single !== undefined) {
      const nowSingle = memberOf(after, single);
      const changed = nowSingle !== oldSingle;
      if (changed && checkIn !== undefined && checkIn !== single) {
        const other = memberOf(after, checkIn); // not written by this event: the same before and after
        const [first, second] = single < checkIn ? [single, checkIn] : [checkIn, single];
        for (const name of [first, second]) {
          const [old, now] = name === single ? [oldSingle, nowSingle] : [other, other];
          this.applyMember(stream, name, old, now, before, after, name === checkIn ? event : undefined, ctx, heartbeatOf(name));
        }
      } else if (changed || checkIn === single) {
        this.applyMember(stream, single, oldSingle, nowSingle, before, after, checkIn === single ? event : undefined, ctx, heartbeatOf(single));
      } else if (checkIn !== undefined) {
        const other = memberOf(after, checkIn);
        this.applyMember(stream, checkIn, other, other, before, after, event, ctx, undefined);
      }
      return;
    }
    if (before.members === after.members) {
      if (checkIn === undefined) return;
      const member = memberOf(after, checkIn);
      this.applyMember(stream, checkIn, member, member, before, after, event, ctx, heartbeatOf(checkIn));
      return;
    }
    const names = [...new Set([...Object.keys(before.members), ...Object.keys(after.members)])].sort();
    for (const name of names) {
      this.applyMember(stream, name, memberOf(before, name), memberOf(after, name), before, after, name === checkIn ? event : undefined, ctx, heartbeatOf(name));
    }
  }

  /**
   * Before a member is written in place: the values its row last had, which `settleMachine` would
   * otherwise compute from the state before the event (after a restore the cache is empty).
   */
  private keepMachineValues(id: string, stream: string, before: GroupState, at: Instant): void {
    if (!this.meta.flowmachines.has(id) || this.cache.flowmachines.has(id)) return;
    const facts = this.machines.get(id);
    if (facts) this.cache.flowmachines.set(id, machineValues(facts, facts.groupStream === stream ? before : this.groupOf(facts), at));
  }

  /** One member's row across a group event: joined, left, changed, or checked in (`old`, `now`: the member before and after). */
  private applyMember(
    stream: string, name: string, old: Member | undefined, now: Member | undefined, before: GroupState, after: GroupState,
    checkIn: Timed<GroupEvent> | undefined, ctx: Context, importedHeartbeat?: string | null,
  ): void {
    const at = ctx.at;
    if (old && (!now || now.machineId !== old.machineId)) {
      // Left, or its group was deleted: no more check-ins (R9).
      const facts = this.machines.get(old.machineId);
      const left = facts && facts.groupStream === stream
        ? { ...facts, agentVersion: old.agentVersion, groupStream: null, heartbeat: endSession(facts.heartbeat, at) }
        : facts;
      if (facts && left) this.settleMachine(old.machineId, facts, before, left, after, stream, ctx);
    }
    if (!now) return;
    const factsBefore = this.machines.get(now.machineId);
    let factsAfter: MachineFacts;
    if (!old || old.machineId !== now.machineId) {
      // Joined (R7; R21: joining counts as a check-in and opens a session).
      const base = factsBefore ?? newFacts(now.machineId, name, now.agentVersion);
      factsAfter = {
        ...base,
        name,
        groupStream: stream,
        heartbeat: importedHeartbeat === undefined
          ? checkedIn(startSession(base.heartbeat, at, now.checkInIntervalMinutes), at)
          : { ...NO_HEARTBEAT, lastCheckIn: importedHeartbeat === null ? null : Date.parse(importedHeartbeat) },
        streams: base.streams.includes(stream) ? base.streams : [...base.streams, stream],
      };
    } else if (old !== now || checkIn) {
      if (!factsBefore) return;
      factsAfter = factsBefore;
    } else {
      return;
    }
    if (checkIn) {
      let heartbeat = factsAfter.heartbeat;
      if (checkIn.type === 'MachineConnected') {
        // R21: the session's check-ins are counted from its online interval's start, which is before
        // the event's instant for a machine that joined part-way through it.
        const started = checkIn.data.sessionStartedAt === undefined ? at : Date.parse(checkIn.data.sessionStartedAt);
        heartbeat = startSession(heartbeat, started, checkIn.data.checkInIntervalMinutes);
      }
      else if (checkIn.type === 'MachineDisconnected') heartbeat = endSession(heartbeat, at);
      else heartbeat = checkedIn(heartbeat, at);
      if (heartbeat !== factsAfter.heartbeat) factsAfter = { ...factsAfter, heartbeat };
    }
    this.settleMachine(now.machineId, factsBefore, before, factsAfter, after, stream, ctx);
  }

  private settleMachine(
    id: string,
    factsBefore: MachineFacts | undefined,
    stateBefore: GroupState,
    factsAfter: MachineFacts,
    stateAfter: GroupState,
    stream: string,
    ctx: Context,
  ): void {
    const at = ctx.at;
    const meta = this.meta.flowmachines.get(id);
    let old: RowValues | null = null;
    if (meta && factsBefore) {
      old = this.cache.flowmachines.get(id) ??
        machineValues(factsBefore, factsBefore.groupStream === stream ? stateBefore : this.groupOf(factsBefore), at);
    }
    this.machines.set(id, factsAfter);
    const groupAfter = factsAfter.groupStream === stream ? stateAfter : this.groupOf(factsAfter);
    this.settle('flowmachines', id, ctx, meta, old, machineValues(factsAfter, groupAfter, at),
      factsBefore ? heartbeatAt(factsBefore.heartbeat, at) : null, factsAfter !== factsBefore);
  }

  private applyConnection(stream: string, event: Timed<ConnectionEvent>, ctx: Context): void {
    const before = this.connections.get(stream) ?? initialConnectionState;
    const after = evolveConnection(before, event);
    this.connections.set(stream, after);
    if (after === before) return;
    if (event.type === 'ConnectionCreated' || event.type === 'ConnectionImported') this.connectionStreamById.set(after.connectionId, stream);
    const id = after.connectionId;
    const meta = this.meta.desktopflowconnections.get(id);
    const old = meta ? this.cache.desktopflowconnections.get(id) ?? connectionValues(before) : null;
    this.settle('desktopflowconnections', id, ctx, meta, old, connectionValues(after), null, false);
  }

  private applyMachine(stream: string, event: Timed<MachineEvent>, ctx: Context): void {
    if (event.type !== 'MachineRegistered') return;
    const data = event.data;
    const factsBefore = this.machines.get(data.machineId);
    const base = factsBefore ?? newFacts(data.machineId, data.name, data.agentVersion);
    const factsAfter: MachineFacts = {
      ...base,
      name: base.groupStream === null ? data.name : base.name,
      agentVersion: data.agentVersion,
      streams: base.streams.includes(stream) ? base.streams : [...base.streams, stream],
    };
    const meta = this.meta.flowmachines.get(data.machineId);
    const old = meta && factsBefore ? this.cache.flowmachines.get(data.machineId) ?? machineValues(factsBefore, this.groupOf(factsBefore), event.at) : null;
    this.machines.set(data.machineId, factsAfter);
    this.settle('flowmachines', data.machineId, ctx, meta, old, machineValues(factsAfter, this.groupOf(factsAfter), event.at),
      factsBefore ? heartbeatAt(factsBefore.heartbeat, event.at) : null, true);
  }

  /**
   * Compares one row before and after an event (both as of the event's instant) and records the
   * change: Create when the row appears, Delete when it goes, Update when a column differs.
   * `before` comes from the row's cache when it has one (else computed from the state before); for
   * machines `heartbeatBefore` is the before-value of `lastheartbeatdate` at this instant, since the
   * cache holds it as of the row's previous change.
   */
  private settle(
    table: TableName,
    id: string,
    ctx: Context,
    oldMeta: RowMeta | undefined,
    before: RowValues | null,
    after: RowValues | null,
    heartbeatBefore: Instant | null,
    forceDirty: boolean,
  ): void {
    const metas = this.meta[table];
    const cache = this.cache[table];
    if (!oldMeta || !before) {
      if (!after) return;
      const meta: RowMeta = { createdOn: ctx.at, modifiedOn: ctx.at, version: ctx.position };
      metas.set(id, meta);
      cache.set(id, after);
      this.markDirty(table, id);
      if (ctx.sink) ctx.sink(this.change(table, id, 'Create', buildRow(table, after, meta), COLUMNS[table], ctx));
      return;
    }
    const timeIndex = table === 'flowmachines' ? MACHINE_HEARTBEAT : -1;
    if (!after) {
      metas.delete(id);
      cache.delete(id);
      const last = buildRow(table, before, oldMeta);
      this.tombstones[table].set(id, { row: last, streams: this.streamsOf(table, id) });
      this.markDirty(table, id);
      if (ctx.sink) ctx.sink(this.change(table, id, 'Delete', last, [], ctx));
      return;
    }
    cache.set(id, after);
    let changed = false;
    for (let i = 0; i < after.length; i++) {
      if ((i === timeIndex ? heartbeatBefore : before[i]) !== after[i]) {
        changed = true;
        break;
      }
    }
    if (!changed) {
      if (forceDirty) this.markDirty(table, id);
      return;
    }
    const meta: RowMeta = { createdOn: oldMeta.createdOn, modifiedOn: ctx.at, version: ctx.position };
    metas.set(id, meta);
    this.markDirty(table, id);
    if (ctx.sink) {
      const names = VALUE_COLUMNS[table];
      const differs = new Set<string>();
      for (let i = 0; i < names.length; i++) {
        if ((i === timeIndex ? heartbeatBefore : before[i]) !== after[i]) differs.add(names[i]!);
      }
      if (oldMeta.modifiedOn !== ctx.at) differs.add('modifiedon');
      const changedColumns = COLUMNS[table].filter((column) => differs.has(column));
      ctx.sink(this.change(table, id, 'Update', buildRow(table, after, meta), changedColumns, ctx));
    }
  }

  private change(table: TableName, id: string, changeType: ChangeType, row: Row, changedColumns: readonly string[], ctx: Context): RowChange {
    return { table, changeType, id, name: String(row.name), row, changedColumns: [...changedColumns], position: ctx.position, occurredAt: ctx.occurredAt, event: ctx.event };
  }

  private markDirty(table: TableName, id: string): void {
    if (this.trackDirty) this.dirty[table].add(id);
  }
}

function newFacts(machineId: string, name: string, agentVersion: string): MachineFacts {
  return { machineId, name, agentVersion, groupStream: null, heartbeat: NO_HEARTBEAT, streams: [] };
}
