/**
 * The engine: the service side of rekey. It handles commands over an event store in numbered steps
 * (catch up with the log, run the process due times, decide, append with the expected revision,
 * retry a conflict), keeps connections consistent with the keys that are live, and never holds a
 * password, a plaintext private key or a plaintext credential: machines and the portal encrypt
 * before they call it.
 */
import type { Envelope } from '../kernel/envelope.js';
import { verifyProof } from '../crypto/proof.js';
import { parseCertificate } from '../crypto/certificates.js';
import type { ConnectionCommand } from '../domain/connection/commands.js';
import { decideConnection } from '../domain/connection/decide.js';
import { initialConnectionState, type ConnectionState } from '../domain/connection/state.js';
import { RekeyError, errorKind, isRekeyError } from '../kernel/errors.js';
import type { ConnectionTarget, DomainEvent, Timed } from '../domain/events.js';
import type { GroupCommand, JoinCredential, PresentedCertificate } from '../domain/group/commands.js';
import { decideGroup } from '../domain/group/decide.js';
import { GROUP_DELETED, GROUP_NOT_FOUND } from '../domain/group/errors.js';
import { nextDue } from '../domain/group/schedule.js';
import { initialGroupState, type GroupState } from '../domain/group/state.js';
import { DEFAULT_PICKUP_DELAY_MINUTES, DEFAULT_CHECK_IN_INTERVAL_MINUTES } from '../domain/periods.js';
import { checkName } from '../domain/names.js';
import { toIso, type Clock, type Instant } from '../domain/time.js';
import { WrongExpectedRevisionError } from '../store/errors.js';
import type { EventStore, RecordedEvent } from '../store/port.js';
import { toNewEvent, type CommandContext } from '../domain/codec.js';
import { optionalBoolean, requireBoolean, requireString } from './arguments.js';
import { Fleet } from './fleet.js';
import { DueQueue, type DueEntry } from './dueQueue.js';
import type { IdSource } from './ids.js';
import { nameBasedId } from './nameIds.js';
import { connectionStream, groupStream, machineStream } from '../domain/streams.js';

export const CONNECTION_UNKNOWN = errorKind('CONNECTION_UNKNOWN', 'not_found');
export const PROOF_INVALID = errorKind('PROOF_INVALID', 'refused');
export const MACHINE_NOT_REGISTERED = errorKind('MACHINE_NOT_REGISTERED', 'not_found');
export const CLOCK_WENT_BACKWARDS = errorKind('CLOCK_WENT_BACKWARDS', 'refused');
export const CONFLICT_RETRIES_EXHAUSTED = errorKind('CONFLICT_RETRIES_EXHAUSTED', 'conflict');

export interface EngineOptions {
  readonly store: EventStore;
  readonly clock: Clock;
  readonly ids: IdSource;
  /** R4: how long settings changes take to be picked up. */
  readonly pickupDelayMinutes?: number;
  /** How often a conflicting append is retried before the command fails. */
  readonly maxRetries?: number;
}

export interface CommandOptions {
  /** A retried command with the same id records nothing new (idempotence). */
  readonly commandId?: string;
  readonly correlationId?: string;
  /** Who issued the command (`token:<id>`, `local`): recorded in each event's metadata, never a secret. */
  readonly actor?: string;
}

/** What a machine proves when it joins: a signature over the join statement with the key it claims. */
export interface JoinRequest {
  readonly group: string;
  readonly machineId: string;
  readonly machine: string;
  readonly agentVersion: string;
  readonly credential: JoinCredential;
  readonly proof: string;
}

export function joinStatement(group: string, machine: string, keyThumbprint: string): string {
  return `rekey join ${group} ${machine} ${keyThumbprint}`;
}

const KEY_LIVENESS_EVENTS = new Set(['KeyIssued', 'KeyExpired', 'GroupKeyExpired', 'GroupDeleted', 'MachineJoined', 'MachineLeft', 'MachineRejoined']);

export class Engine {
  readonly fleet = new Fleet();
  readonly store: EventStore;
  readonly clock: Clock;
  private readonly ids: IdSource;
  readonly pickupDelayMinutes: number;
  private readonly maxRetries: number;

  private constructor(options: EngineOptions) {
    this.store = options.store;
    this.clock = options.clock;
    this.ids = options.ids;
    this.pickupDelayMinutes = options.pickupDelayMinutes ?? DEFAULT_PICKUP_DELAY_MINUTES;
    this.maxRetries = options.maxRetries ?? 20;
  }

  /** Opens an engine on a store and folds the whole log into its working memory. */
  static async open(options: EngineOptions): Promise<Engine> {
    const engine = new Engine(options);
    await engine.sync();
    return engine;
  }

  /** Reads whatever other writers appended since the engine last looked. */
  async sync(): Promise<void> {
    for (;;) {
      const page = await this.store.readAll(this.fleet.position + 1, 5000);
      for (const recorded of page) this.fleet.apply(recorded);
      if (page.length < 5000) return;
    }
  }

  // ---- reading -------------------------------------------------------------------------------

  group(name: string): GroupState {
    requireString('machine group name', name);
    const state = this.fleet.group(name);
    if (!state && this.fleet.wasDeleted(name)) {
      // R19: the same refusal the group's decider gives a command on a deleted group.
      throw new RekeyError(GROUP_DELETED, `machine group ${name} was deleted; create a new group`, { group: name });
    }
    if (!state) throw new RekeyError(GROUP_NOT_FOUND, `machine group ${name} not found; known groups: ${this.fleet.groupNames().join(', ') || 'none'}`, { group: name });
    return state;
  }

  connection(name: string): ConnectionState {
    requireString('desktop flow connection name', name);
    const state = this.fleet.connection(name);
    if (!state) throw new RekeyError(CONNECTION_UNKNOWN, `desktop flow connection ${name} not found`, { connection: name });
    return state;
  }

  /** Every group's next due time, recomputed only for the groups that changed (DueQueue). */
  private readonly due = new DueQueue();
  /** Each group stream's rank in the log, for ties between due times at one instant. */
  private readonly groupOrder = new Map<string, number>();
  private reconciledSinceOpen = false;
  /** How many groups the last scheduler pass looked at: the due ones, never every group. */
  lastPassExamined = 0;

  private readonly dueIsCurrent = (entry: DueEntry) => this.fleet.groups.get(entry.stream)?.revision === entry.revision;

  /** Brings the agenda up to date with the groups that changed since it last looked. */
  private replan(): void {
    for (const stream of this.fleet.takeScheduleChanges()) {
      const slot = this.fleet.groups.get(stream);
      if (!slot) continue;
      let order = this.groupOrder.get(stream);
      if (order === undefined) {
        order = this.groupOrder.size;
        this.groupOrder.set(stream, order);
      }
      const at = nextDue(slot.state)?.at ?? null;
      if (at !== null) this.due.push({ at, stream, revision: slot.revision, order });
    }
    if (this.due.size > 2 * this.fleet.groups.size + 1024) this.due.retain(this.dueIsCurrent);
  }

  /** The earliest due time of any group, for schedulers that sleep until then. */
  nextDueAt(): Instant | null {
    this.replan();
    return this.due.earliest(this.dueIsCurrent)?.at ?? null;
  }

  // ---- the scheduler ---------------------------------------------------------------------------

  /**
   * Records every due time that the clock has passed, in every group (level-triggered), in instant
   * order across all groups: the earliest due instant of any group first, each group's due times at
   * that instant in one append, then the connections' follow-up stamped at that same instant (R14:
   * retired ciphertexts are dropped at E). So the log never goes back in time, however many due
   * times of however many groups fell between two commands (days without a command, an outage).
   * `actor` names who asked (the passes before each command; the scheduler's name nobody).
   */
  async processDue(options: Pick<CommandOptions, 'actor'> = {}): Promise<RecordedEvent[]> {
    await this.sync();
    this.requireClockNotBehindLog();
    if (!this.reconciledSinceOpen) {
      // Level-triggered catch-up: an engine that crashed between a key's retirement and the
      // connections' follow-up finishes that work before anything else.
      this.reconciledSinceOpen = true;
      await this.reconcileConnections();
    }
    const now = this.clock.now();
    const recorded: RecordedEvent[] = [];
    let examined = 0;
    // The due groups only (a queue of due times, never a walk over every group), earliest first.
    for (;;) {
      this.replan();
      const next = this.due.earliest(this.dueIsCurrent);
      if (!next || next.at > now) break;
      examined++;
      const revision = this.fleet.revisionOf(next.stream);
      const batch = await this.executeGroup(next.stream, { type: 'ProcessDue', at: next.at }, options, false);
      // Nothing recorded and nothing changed (cannot happen while decide and nextDue agree): stop
      // rather than loop; the entry stays due and the next command looks again.
      if (batch.length === 0 && this.fleet.revisionOf(next.stream) === revision) break;
      recorded.push(...batch);
      if (batch.some((event) => KEY_LIVENESS_EVENTS.has(event.type))) await this.reconcileConnections(options, next.at);
    }
    this.lastPassExamined = examined;
    return recorded;
  }

  /**
   * Every command runs through processDue first, so this guards them all: a clock behind the log
   * (a machine whose clock was set back, Power Automate's AuthTokenNotYetValid in reverse) would
   * record facts out of order, and time travel could no longer be trusted.
   */
  private requireClockNotBehindLog(): void {
    const now = this.clock.now();
    if (now < this.fleet.latestAt) {
      throw new RekeyError(
        CLOCK_WENT_BACKWARDS,
        `the clock says ${toIso(now)}, but the log already holds facts at ${toIso(this.fleet.latestAt)}; fix the clock (time in the log only moves forward)`,
        { now: toIso(now), latest: toIso(this.fleet.latestAt) },
      );
    }
  }

  // ---- machine groups ------------------------------------------------------------------------

  async createGroup(
    input: { name: string; keyValidityPeriod?: number; keyExpiryGracePeriod?: number; proactiveReencryption?: boolean },
    options: CommandOptions = {},
  ): Promise<RecordedEvent[]> {
    requireString('machine group name', input.name);
    optionalBoolean('proactiveReencryption', input.proactiveReencryption);
    await this.processDue();
    if (this.retriedForGroupName(input.name, options)) return [];
    // The stream is chosen again on every attempt: a conflict means another writer created this
    // name (or its incarnation) first, and the next attempt decides against what it recorded.
    const target = () => this.fleet.groupStreamOf(input.name) ?? groupStream(nameBasedId('group', input.name, this.fleet.groupIncarnationsOf(input.name)));
    const at = this.clock.now();
    return this.executeGroup(target, (stream) => ({ type: 'CreateGroup', at, groupId: stream.slice('group-'.length), ...input }), options);
  }

  async joinMachine(request: JoinRequest, options: CommandOptions = {}): Promise<RecordedEvent[]> {
    requireString('machine name', request.machine);
    requireString('agentVersion', request.agentVersion);
    requireString('proof', request.proof);
    await this.processDue();
    if (this.retriedForGroupName(request.group, options)) return [];
    const stream = this.requireGroupStream(request.group);
    const claimed = request.credential.kind === 'firstKey' ? request.credential.certificate.thumbprint : request.credential.keyThumbprint;
    const certificatePem = request.credential.kind === 'firstKey'
      ? request.credential.certificate.pem
      : this.fleet.groups.get(stream)!.state.keys.find((key) => key.thumbprint === claimed)?.certificatePem;
    this.requireProof(certificatePem, joinStatement(request.group, request.machine, claimed), request.proof, request.machine);
    return this.executeGroup(stream, {
      type: 'JoinMachine',
      at: this.clock.now(),
      machineId: request.machineId,
      machine: request.machine,
      agentVersion: request.agentVersion,
      // A first key is known by its certificate, never by what the caller says of it.
      credential: request.credential.kind === 'firstKey'
        ? { ...request.credential, certificate: presented(request.credential.certificate.pem) }
        : request.credential,
      memberOfGroup: this.fleet.groupOfMachine(request.machine),
    }, options);
  }

  async rejoinMachine(input: { group: string; machine: string; agentVersion: string; keyThumbprint: string; proof: string }, options: CommandOptions = {}) {
    for (const field of ['machine', 'agentVersion', 'keyThumbprint', 'proof'] as const) requireString(field === 'machine' ? 'machine name' : field, input[field]);
    await this.processDue();
    if (this.retriedForGroupName(input.group, options)) return [];
    const stream = this.requireGroupStream(input.group);
    const pem = this.fleet.groups.get(stream)!.state.keys.find((key) => key.thumbprint === input.keyThumbprint)?.certificatePem;
    this.requireProof(pem, joinStatement(input.group, input.machine, input.keyThumbprint), input.proof, input.machine);
    return this.groupCommand(input.group, { type: 'RejoinMachine', machine: input.machine, agentVersion: input.agentVersion, keyThumbprint: input.keyThumbprint }, options);
  }

  async removeMachine(group: string, machine: string, options: CommandOptions = {}) {
    requireString('machine name', machine);
    return this.groupCommand(group, { type: 'RemoveMachine', machine }, options);
  }

  /** A member's online session starts (now, or at `sessionStartedAt` for a machine that joined part-way through it). */
  async connectMachine(group: string, machine: string, checkInIntervalMinutes = DEFAULT_CHECK_IN_INTERVAL_MINUTES, options: CommandOptions & { sessionStartedAt?: Instant } = {}) {
    const { sessionStartedAt, ...commandOptions } = options;
    requireString('machine name', machine);
    return this.groupCommand(group, { type: 'ConnectMachine', machine, checkInIntervalMinutes, sessionStartedAt }, commandOptions);
  }

  async disconnectMachine(group: string, machine: string, options: CommandOptions = {}) {
    requireString('machine name', machine);
    return this.groupCommand(group, { type: 'DisconnectMachine', machine }, options);
  }

  async reportAgentVersion(group: string, machine: string, agentVersion: string, options: CommandOptions = {}) {
    requireString('machine name', machine);
    requireString('agentVersion', agentVersion);
    return this.groupCommand(group, { type: 'ReportAgentVersion', machine, agentVersion }, options);
  }

  issueRenewalKey(group: string, machine: string, certificatePem: string, wrappedUnderPrevious: Envelope, options: CommandOptions = {}) {
    const certificate = presented(certificatePem);
    return this.groupCommand(group, { type: 'IssueRenewalKey', machine, certificate, wrappedUnderPrevious }, options);
  }

  async acceptNewKey(group: string, machine: string, options: CommandOptions = {}) {
    requireString('machine name', machine);
    return this.groupCommand(group, { type: 'AcceptNewKey', machine }, options);
  }

  async regeneratePassword(group: string, machine: string, packageThumbprint: string, passwordPackage: string, options: CommandOptions = {}) {
    requireString('machine name', machine);
    requireString('packageThumbprint', packageThumbprint);
    requireString('passwordPackage', passwordPackage);
    return this.groupCommand(group, { type: 'RegeneratePassword', machine, packageThumbprint, passwordPackage }, options);
  }

  setKeyValidityPeriod(group: string, minutes: number, options: CommandOptions = {}) {
    return this.groupCommand(group, { type: 'SetKeyValidityPeriod', minutes, pickupDelayMinutes: this.pickupDelayMinutes }, options);
  }

  setKeyExpiryGracePeriod(group: string, minutes: number, options: CommandOptions = {}) {
    return this.groupCommand(group, { type: 'SetKeyExpiryGracePeriod', minutes, pickupDelayMinutes: this.pickupDelayMinutes }, options);
  }

  async setProactiveReencryption(group: string, enabled: boolean, options: CommandOptions = {}) {
    requireBoolean('enabled', enabled);
    return this.groupCommand(group, { type: 'SetProactiveReencryption', enabled }, options);
  }

  deleteGroup(group: string, options: CommandOptions = {}) {
    return this.groupCommand(group, { type: 'DeleteGroup' }, options);
  }

  /** A lone machine's own certificate, so that connections can target it before it joins a group (R20). */
  async registerMachine(input: { machineId: string; name: string; agentVersion: string; certificatePem: string }, options: CommandOptions = {}) {
    await this.processDue();
    checkName(input.name, 'machine name');
    const certificate = presented(input.certificatePem);
    const stream = machineStream(input.machineId);
    const data = { machineId: input.machineId, name: input.name, agentVersion: input.agentVersion, certificatePem: certificate.pem, thumbprint: certificate.thumbprint };
    // Registered once: a second registration (another process's, found on a conflict) is a no-op.
    return this.execute(stream, (_stream, at): Timed<DomainEvent>[] => (this.fleet.revisionOf(stream) >= 0 ? [] : [{ type: 'MachineRegistered', at, data }]), options);
  }

  // ---- desktop flow connections ----------------------------------------------------------------

  async createConnection(input: { name: string; target: ConnectionTarget; ciphertexts: readonly Envelope[] }, options: CommandOptions = {}) {
    requireString('desktop flow connection name', input.name);
    requireString('target name', input.target?.name);
    await this.processDue();
    // As for groups: the stream follows the name, so two servers creating one name meet on one stream.
    const target = () => this.fleet.connectionStreamOf(input.name) ?? connectionStream(nameBasedId('connection', input.name, this.fleet.connectionIncarnationsOf(input.name)));
    return this.execute(target, (stream, at) => {
      const liveThumbprints = this.fleet.liveCertificatesOf(input.target).map((c) => c.thumbprint);
      const noLiveKeyReason = this.noLiveKeyReason(input.target);
      const command: ConnectionCommand = { type: 'CreateConnection', at, connectionId: stream.slice('connection-'.length), name: input.name, target: input.target, ciphertexts: input.ciphertexts, liveThumbprints, noLiveKeyReason };
      return decideConnection(command, this.fleet.connections.get(stream)?.state ?? initialConnectionState);
    }, options);
  }

  async recordRun(connection: string, machine: string, keyThumbprint: string, reencrypted: Envelope | null, options: CommandOptions = {}) {
    requireString('machine name', machine);
    requireString('keyThumbprint', keyThumbprint);
    return this.connectionCommand(connection, (live) => ({ type: 'RecordRun', machine, keyThumbprint, reencrypted, liveThumbprints: live }), options);
  }

  async recordRunFailure(connection: string, code: string, reason: string, options: CommandOptions = {}) {
    requireString('code', code);
    requireString('reason', reason);
    return this.connectionCommand(connection, () => ({ type: 'RecordRunFailure', code, reason }), options);
  }

  async reencrypt(connection: string, machine: string, ciphertext: Envelope, proactive: boolean, options: CommandOptions = {}) {
    requireString('machine name', machine);
    requireBoolean('proactive', proactive);
    return this.connectionCommand(connection, () => ({ type: 'Reencrypt', machine, ciphertext, proactive }), options);
  }

  async fixConnection(connection: string, ciphertexts: readonly Envelope[], options: CommandOptions = {}) {
    const target = this.connection(connection).target;
    return this.connectionCommand(connection, (live) => ({ type: 'FixConnection', ciphertexts, liveThumbprints: live, noLiveKeyReason: this.noLiveKeyReason(target) }), options);
  }

  // ---- command handling ------------------------------------------------------------------------

  private requireGroupStream(name: string): string {
    requireString('machine group name', name);
    const stream = this.fleet.groupStreamOf(name);
    if (!stream) this.group(name); // throws GROUP_DELETED, or GROUP_NOT_FOUND with the known names
    return stream!;
  }

  private requireProof(certificatePem: string | undefined, statement: string, proof: string, machine: string): void {
    if (!certificatePem || !verifyProof(certificatePem, statement, proof)) {
      throw new RekeyError(PROOF_INVALID, `machine ${machine} did not prove that it holds the key it presented; its signature does not verify against that certificate`, { machine });
    }
  }

  /**
   * A command id already recorded for a group of this name is a retry, even when that group has been
   * deleted (or replaced by a new one of the same name) since: a retried deleteGroup is a no-op, not
   * GROUP_NOT_FOUND, and never touches the new group.
   */
  private retriedForGroupName(name: string, options: CommandOptions): boolean {
    return options.commandId !== undefined && this.fleet.commandSeenForGroupName(name, options.commandId);
  }

  private async groupCommand(group: string, command: DistributiveOmit<GroupCommand, 'at'>, options: CommandOptions): Promise<RecordedEvent[]> {
    await this.processDue();
    if (this.retriedForGroupName(group, options)) return [];
    const stream = this.requireGroupStream(group);
    return this.executeGroup(stream, { ...command, at: this.clock.now() } as GroupCommand, options);
  }

  private async connectionCommand(
    name: string,
    build: (liveThumbprints: string[]) => DistributiveOmit<ConnectionCommand, 'at'>,
    options: CommandOptions,
  ): Promise<RecordedEvent[]> {
    await this.processDue();
    const stream = this.fleet.connectionStreamOf(name);
    if (!stream) this.connection(name);
    const state = this.fleet.connections.get(stream!)!.state;
    const live = this.fleet.liveCertificatesOf(state.target).map((c) => c.thumbprint);
    return this.executeConnection(stream!, { ...build(live), at: this.clock.now() } as ConnectionCommand, options);
  }

  private async executeGroup(
    target: string | (() => string),
    build: GroupCommand | ((stream: string) => GroupCommand),
    options: CommandOptions,
    reconcile = true,
  ): Promise<RecordedEvent[]> {
    const dueAt = typeof build !== 'function' && build.type === 'ProcessDue' ? build.at : undefined;
    const recorded = await this.execute(target, (stream, at) => {
      const state = this.fleet.groups.get(stream)?.state ?? initialGroupState;
      const command = typeof build === 'function' ? build(stream) : build;
      return decideGroup({ ...command, at, ...(command.type === 'JoinMachine' ? { memberOfGroup: this.fleet.groupOfMachine(command.machine) } : {}) } as GroupCommand, state);
    }, options, dueAt);
    // Only these facts change which keys are live for a connection's target (R14-R16, R19, R20).
    if (reconcile && recorded.some((event) => KEY_LIVENESS_EVENTS.has(event.type))) await this.reconcileConnections(options);
    return recorded;
  }

  private executeConnection(stream: string, command: ConnectionCommand, options: CommandOptions): Promise<RecordedEvent[]> {
    return this.execute(stream, (_stream, at) => decideConnection({ ...command, at }, this.fleet.connections.get(stream)?.state ?? initialConnectionState), options);
  }

  /**
   * 1. pick the stream (a creation's stream can change between attempts: another writer may have
   * created the name first); 2. skip a command already recorded there (same id); 3. decide on the
   * current state, at the clock's instant (or at `dueAt`, a due time's own instant); 4. append with
   * the revision the decision was made on; 5. on a conflict, catch up and start again, reading the
   * clock again and checking it against what the others appended meanwhile, so a retry never
   * records an instant older than the log's latest (CLOCK_WENT_BACKWARDS while the clock is behind).
   */
  private async execute(
    target: string | (() => string),
    decide: (stream: string, at: Instant) => Timed<DomainEvent>[],
    options: CommandOptions,
    dueAt?: Instant,
  ): Promise<RecordedEvent[]> {
    const commandId = options.commandId ?? this.ids.next();
    const context: CommandContext = { commandId, correlationId: options.correlationId ?? commandId, ...(options.actor !== undefined ? { actor: options.actor } : {}) };
    for (let attempt = 0; ; attempt++) {
      const stream = typeof target === 'string' ? target : target();
      if (this.fleet.commandSeen(stream, commandId)) return [];
      if (dueAt === undefined) this.requireClockNotBehindLog();
      const events = decide(stream, dueAt ?? this.clock.now());
      if (events.length === 0) return [];
      const expected = this.fleet.revisionOf(stream);
      const newEvents = events.map((event) => toNewEvent(event, context));
      try {
        const result = await this.store.append(stream, newEvents, expected);
        const firstPosition = result.lastPosition - newEvents.length + 1;
        if (firstPosition !== this.fleet.position + 1) {
          await this.sync(); // others wrote in between: read everything in log order
          return (await this.store.readAll(firstPosition, newEvents.length));
        }
        const recorded = newEvents.map((event, i): RecordedEvent => ({
          ...event,
          stream,
          revision: expected + 1 + i,
          position: firstPosition + i,
          recordedAt: '',
          hash: '',
        }));
        for (const event of recorded) this.fleet.apply(event);
        return recorded;
      } catch (error) {
        if (!(error instanceof WrongExpectedRevisionError) && !isRekeyError(error, 'WRONG_EXPECTED_REVISION')) throw error;
        if (attempt >= this.maxRetries) {
          throw new RekeyError(CONFLICT_RETRIES_EXHAUSTED, `stream ${stream} kept changing under the command; gave up after ${attempt + 1} attempts`, { stream });
        }
        await this.sync();
      }
    }
  }

  /**
   * Keeps every connection's ciphertexts equal to the live keys of its target: ciphertexts for keys
   * that are no longer live are dropped (R14, at E), and a connection left with none needs fixing
   * (R15, R16, R19, R20). Level-triggered, so an engine that crashed half-way finishes the job.
   */
  async reconcileConnections(options: CommandOptions = {}, at?: Instant): Promise<void> {
    for (const [stream, slot] of this.fleet.connections) {
      const connection = slot.state;
      if (!connection.exists) continue;
      const live = this.fleet.liveCertificatesOf(connection.target).map((c) => c.thumbprint);
      const stale = connection.ciphertexts.some((c) => !live.includes(c.thumbprint));
      const unusable = !connection.needsFix && connection.ciphertexts.every((c) => !live.includes(c.thumbprint));
      if (!stale && !unusable) continue;
      const reason = this.needsFixReason(connection.target, live);
      await this.execute(stream, (_stream, when) => decideConnection({ type: 'Reconcile', at: when, liveThumbprints: live, reason }, this.fleet.connections.get(stream)!.state), {
        correlationId: options.correlationId,
      }, at);
    }
  }

  /** Why a target has no live key to encrypt credentials to (R16, R19, R20), for the refusal's message. */
  private noLiveKeyReason(target: ConnectionTarget): string {
    const groupName = target.type === 'group' ? target.name : this.fleet.groupOfMachine(target.name);
    if (groupName === null) return `machine ${target.name} belongs to no machine group and has no certificate of its own registered`;
    const group = this.fleet.group(groupName);
    const of = target.type === 'group' ? '' : ` (the group of machine ${target.name})`;
    if (!group && this.fleet.wasDeleted(groupName)) {
      return `machine group ${groupName}${of} was deleted, which invalidated its keys (R19); create a machine group named ${groupName}, join a machine to it, then fix the connection`;
    }
    if (!group) return `machine group ${groupName} does not exist; known groups: ${this.fleet.groupNames().join(', ') || 'none'}`;
    if (group.lifecycle === 'expired') return `the key of machine group ${groupName}${of} expired because no machine renewed it (R16); delete the group and create a new one`;
    return `no machine joined machine group ${groupName}${of} yet; the first machine that joins issues its key`;
  }

  private needsFixReason(target: ConnectionTarget, live: string[]): string {
    if (target.type === 'group') {
      const group = this.fleet.group(target.name);
      if (!group) return `machine group ${target.name} was deleted`;
      if (group.lifecycle === 'expired') return `the key of machine group ${target.name} expired`;
      return `its credentials were encrypted only to keys of ${target.name} that are now retired; it was not used during the renewal`;
    }
    const group = this.fleet.groupOfMachine(target.name);
    if (group !== null) return `machine ${target.name} joined machine group ${group}, whose keys the credentials were not encrypted to`;
    return live.length === 0 ? `machine ${target.name} left its machine group` : `machine ${target.name} changed keys`;
  }

  /** Live group keys of a group, for the portal and for agents. */
  liveCertificates(target: ConnectionTarget) {
    return this.fleet.liveCertificatesOf(target);
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

function presented(pem: string): PresentedCertificate {
  const parsed = parseCertificate(pem);
  return { pem, thumbprint: parsed.thumbprint, notBefore: Date.parse(parsed.notBefore), notAfter: Date.parse(parsed.notAfter) };
}
