/**
 * The engine's working memory: every aggregate's state, folded from the log in position order, and
 * the name indexes the rules need across streams (which group a machine is in, which connections
 * target a group). It is rebuilt from the log on start and kept current by applying every event the
 * engine sees, its own appends and other writers' alike.
 */
import type { ConnectionEvent, GroupEvent, MachineEvent, Timed } from '../domain/events.js';
import { evolveConnection } from '../domain/connection/evolve.js';
import { initialConnectionState, type ConnectionState } from '../domain/connection/state.js';
import { evolveGroup } from '../domain/group/evolve.js';
import { initialGroupState, liveKeys, type GroupState } from '../domain/group/state.js';
import type { RecordedEvent } from '../store/port.js';
import { toDomainEvent } from '../domain/codec.js';
import { streamKind } from '../domain/streams.js';

export interface MachineRegistration {
  readonly machineId: string;
  readonly name: string;
  readonly thumbprint: string;
  readonly certificatePem: string;
}

interface Slot<S> {
  state: S;
  revision: number;
  readonly commandIds: Set<string>;
}

export interface LiveCertificate {
  readonly thumbprint: string;
  readonly pem: string;
}

export class Fleet {
  position = 0;
  /** Group streams changed since the last `takeChangedGroups()`, for schedulers that replan. */
  private readonly changedGroups = new Set<string>();
  /** The same, for the engine's own due-time agenda (drained apart, by `takeScheduleChanges()`). */
  private readonly scheduleChanges = new Set<string>();
  /** The latest domain instant in the log: commands may never be stamped before it. */
  latestAt = -Infinity;
  /** How many events of each type the log holds, for summaries. */
  readonly eventCounts = new Map<string, number>();
  readonly groups = new Map<string, Slot<GroupState>>();
  readonly connections = new Map<string, Slot<ConnectionState>>();
  readonly machines = new Map<string, Slot<MachineRegistration | null>>();
  /** Active (not deleted) group streams by group name. */
  private readonly groupByName = new Map<string, string>();
  /** Names of deleted groups no group took again since (R19: refused GROUP_DELETED, not "not found"). */
  private readonly deletedGroupNames = new Set<string>();
  private readonly connectionByName = new Map<string, string>();
  private readonly machineByName = new Map<string, string>();
  /** Group name by member machine name (R9). */
  private readonly membership = new Map<string, string>();
  /** Every stream a group of each name was created in, deleted ones included, oldest first. */
  private readonly groupIncarnations = new Map<string, string[]>();
  /** How many connections of each name the log has created. */
  private readonly connectionIncarnations = new Map<string, number>();

  apply(recorded: RecordedEvent): void {
    if (recorded.position !== this.position + 1) {
      throw new Error(`fleet expected position ${this.position + 1}, got ${recorded.position}`);
    }
    this.position = recorded.position;
    const occurredAt = Date.parse(recorded.metadata.occurredAt);
    if (occurredAt > this.latestAt) this.latestAt = occurredAt;
    this.eventCounts.set(recorded.type, (this.eventCounts.get(recorded.type) ?? 0) + 1);
    const event = toDomainEvent(recorded);
    switch (streamKind(recorded.stream)) {
      case 'group': {
        const slot = slotOf(this.groups, recorded.stream, initialGroupState);
        slot.state = evolveGroup(slot.state, event as Timed<GroupEvent>);
        this.changedGroups.add(recorded.stream);
        this.scheduleChanges.add(recorded.stream);
        this.indexGroupEvent(recorded.stream, slot.state, event as Timed<GroupEvent>);
        advance(slot, recorded);
        break;
      }
      case 'connection': {
        const slot = slotOf(this.connections, recorded.stream, initialConnectionState);
        slot.state = evolveConnection(slot.state, event as Timed<ConnectionEvent>);
        if (event.type === 'ConnectionCreated' || event.type === 'ConnectionImported') {
          this.connectionByName.set(slot.state.name, recorded.stream);
          this.connectionIncarnations.set(slot.state.name, (this.connectionIncarnations.get(slot.state.name) ?? 0) + 1);
        }
        advance(slot, recorded);
        break;
      }
      case 'machine': {
        const slot = slotOf<MachineRegistration | null>(this.machines, recorded.stream, null);
        const registered = (event as Timed<MachineEvent>).data;
        slot.state = { machineId: registered.machineId, name: registered.name, thumbprint: registered.thumbprint, certificatePem: registered.certificatePem };
        this.machineByName.set(registered.name, recorded.stream);
        advance(slot, recorded);
        break;
      }
      default:
        break; // streams of other tools sharing the store are none of the engine's business
    }
  }

  private indexGroupEvent(stream: string, state: GroupState, event: Timed<GroupEvent>): void {
    switch (event.type) {
      case 'GroupCreated':
      case 'GroupImported':
        this.groupByName.set(state.name, stream);
        this.deletedGroupNames.delete(state.name);
        this.groupIncarnations.set(state.name, [...(this.groupIncarnations.get(state.name) ?? []), stream]);
        break;
      case 'MachineJoined':
      case 'MachineImported':
        this.membership.set(event.data.machine, state.name);
        break;
      case 'MachineLeft':
        this.membership.delete(event.data.machine);
        break;
      case 'GroupDeleted':
        if (this.groupByName.get(state.name) === stream) {
          this.groupByName.delete(state.name);
          this.deletedGroupNames.add(state.name);
        }
        break;
      default:
        break;
    }
  }

  takeChangedGroups(): string[] {
    const changed = [...this.changedGroups];
    this.changedGroups.clear();
    return changed;
  }

  takeScheduleChanges(): string[] {
    const changed = [...this.scheduleChanges];
    this.scheduleChanges.clear();
    return changed;
  }

  groupStreamOf(name: string): string | undefined {
    return this.groupByName.get(name);
  }

  group(name: string): GroupState | undefined {
    const stream = this.groupByName.get(name);
    return stream ? this.groups.get(stream)?.state : undefined;
  }

  /** Whether the latest group of that name was deleted (and none was created under it since). */
  wasDeleted(name: string): boolean {
    return this.deletedGroupNames.has(name);
  }

  /** How many machine groups of this name were ever created: the incarnation the next one will be. */
  groupIncarnationsOf(name: string): number {
    return this.groupIncarnations.get(name)?.length ?? 0;
  }

  /** Whether a command with this id was recorded for a group of this name, in any of its incarnations. */
  commandSeenForGroupName(name: string, commandId: string): boolean {
    return (this.groupIncarnations.get(name) ?? []).some((stream) => this.commandSeen(stream, commandId));
  }

  connectionIncarnationsOf(name: string): number {
    return this.connectionIncarnations.get(name) ?? 0;
  }

  groupNames(): string[] {
    return [...this.groupByName.keys()].sort();
  }

  groupOfMachine(machine: string): string | null {
    return this.membership.get(machine) ?? null;
  }

  connectionStreamOf(name: string): string | undefined {
    return this.connectionByName.get(name);
  }

  connection(name: string): ConnectionState | undefined {
    const stream = this.connectionByName.get(name);
    return stream ? this.connections.get(stream)?.state : undefined;
  }

  machineRegistration(name: string): MachineRegistration | null {
    const stream = this.machineByName.get(name);
    return stream ? this.machines.get(stream)?.state ?? null : null;
  }

  /** Connections that target the group or, alone, one of the given machines, by name order. */
  connectionsTargeting(group: string | null, machines: readonly string[] = []): ConnectionState[] {
    const found: ConnectionState[] = [];
    for (const slot of this.connections.values()) {
      const target = slot.state.target;
      if ((target.type === 'group' && target.name === group) || (target.type === 'machine' && machines.includes(target.name))) {
        found.push(slot.state);
      }
    }
    return found.sort((a, b) => a.name.localeCompare(b.name));
  }

  /**
   * The certificates a credential for this target must be encrypted to: the group's live keys; for a
   * machine, its group's live keys when it is a member, else its own registered key (R20).
   */
  liveCertificatesOf(target: { type: 'group' | 'machine'; name: string }): LiveCertificate[] {
    const groupName = target.type === 'group' ? target.name : this.groupOfMachine(target.name);
    if (groupName !== null) {
      const group = this.group(groupName);
      return group ? liveKeys(group).map((key) => ({ thumbprint: key.thumbprint, pem: key.certificatePem })) : [];
    }
    const registration = this.machineRegistration(target.name);
    return registration ? [{ thumbprint: registration.thumbprint, pem: registration.certificatePem }] : [];
  }

  commandSeen(stream: string, commandId: string): boolean {
    const slot = this.groups.get(stream) ?? this.connections.get(stream) ?? this.machines.get(stream);
    return slot?.commandIds.has(commandId) ?? false;
  }

  revisionOf(stream: string): number {
    const slot = this.groups.get(stream) ?? this.connections.get(stream) ?? this.machines.get(stream);
    return slot?.revision ?? -1;
  }
}

function slotOf<S>(map: Map<string, Slot<S>>, stream: string, initial: S): Slot<S> {
  let slot = map.get(stream);
  if (!slot) {
    slot = { state: initial, revision: -1, commandIds: new Set() };
    map.set(stream, slot);
  }
  return slot;
}

function advance<S>(slot: Slot<S>, recorded: RecordedEvent): void {
  slot.revision = recorded.revision;
  slot.commandIds.add(recorded.metadata.commandId);
}
