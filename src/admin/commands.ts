/**
 * The admin commands of a live store, one shape for every way of reaching it: the CLI on the
 * embedded store or EventStoreDB, the CLI through a running service (the body of
 * `POST /api/commands/<command>` is the command without its `command` field), and dry runs. Each is
 * carried out by the engine's own methods, so the rules (R1-R22) decide, never a copy of them.
 */
import { encryptCredential } from '../crypto/index.js';
import { RekeyError, errorKind } from '../kernel/errors.js';
import type { Envelope } from '../kernel/envelope.js';
import { MACHINE_NOT_MEMBER } from '../domain/group/errors.js';
import { keyByVersion } from '../domain/group/state.js';
import type { CommandOptions, Engine } from '../engine/engine.js';
import { createConnection, fixConnection, type Credential } from '../engine/portal.js';
import type { RecordedEvent } from '../store/port.js';

export const RUN_NEEDS_SERVICE = errorKind('RUN_NEEDS_SERVICE', 'validation');

export type AdminCommand =
  | { readonly command: 'createGroup'; readonly name: string; readonly keyValidityPeriod?: number; readonly keyExpiryGracePeriod?: number; readonly proactiveReencryption?: boolean }
  | { readonly command: 'setKeyValidityPeriod'; readonly group: string; readonly minutes: number }
  | { readonly command: 'setKeyExpiryGracePeriod'; readonly group: string; readonly minutes: number }
  | { readonly command: 'setProactiveReencryption'; readonly group: string; readonly enabled: boolean }
  | { readonly command: 'deleteGroup'; readonly group: string }
  | { readonly command: 'removeMachine'; readonly machine: string }
  | { readonly command: 'createConnection'; readonly name: string; readonly group?: string; readonly machine?: string }
  | { readonly command: 'fixConnection'; readonly connection: string }
  | { readonly command: 'runConnection'; readonly connection: string };

export type AdminCommandName = AdminCommand['command'];

/** Commands that carry credentials (read by the CLI from a prompt, a file or stdin; never an argument). */
export function needsCredential(command: AdminCommand): boolean {
  return command.command === 'createConnection' || command.command === 'fixConnection';
}

/**
 * What a dry run encrypts instead of the user's credentials: it never needs them (the ciphertexts
 * are thrown away with the copy), so a dry run never asks for them.
 */
export const DRY_RUN_CREDENTIAL: Credential = { username: 'rekey-dry-run', password: 'placeholder: a dry run never sees the real credential' };

export interface ExecuteOptions extends CommandOptions {
  /** The plaintext credential of createConnection/fixConnection; encrypted here at once (R14, R18). */
  readonly credential?: Credential;
  /** A dry run: `runConnection` is decided as the first machine able to run it would report it. */
  readonly dryRun?: boolean;
}

/** Carries out one admin command on the engine; returns the events it recorded. */
export async function executeAdminCommand(engine: Engine, command: AdminCommand, options: ExecuteOptions = {}): Promise<RecordedEvent[]> {
  const { credential, dryRun, ...commandOptions } = options;
  switch (command.command) {
    case 'createGroup':
      return engine.createGroup({
        name: command.name,
        ...(command.keyValidityPeriod !== undefined ? { keyValidityPeriod: command.keyValidityPeriod } : {}),
        ...(command.keyExpiryGracePeriod !== undefined ? { keyExpiryGracePeriod: command.keyExpiryGracePeriod } : {}),
        ...(command.proactiveReencryption !== undefined ? { proactiveReencryption: command.proactiveReencryption } : {}),
      }, commandOptions);
    case 'setKeyValidityPeriod':
      return engine.setKeyValidityPeriod(command.group, command.minutes, commandOptions);
    case 'setKeyExpiryGracePeriod':
      return engine.setKeyExpiryGracePeriod(command.group, command.minutes, commandOptions);
    case 'setProactiveReencryption':
      return engine.setProactiveReencryption(command.group, command.enabled, commandOptions);
    case 'deleteGroup':
      return engine.deleteGroup(command.group, commandOptions);
    case 'removeMachine': {
      await engine.processDue();
      const group = engine.fleet.groupOfMachine(command.machine);
      if (group === null) {
        throw new RekeyError(MACHINE_NOT_MEMBER, `machine ${command.machine} is not a member of any machine group; members are: ${membersOf(engine).join(', ') || 'none'}`, { machine: command.machine });
      }
      return engine.removeMachine(group, command.machine, commandOptions);
    }
    case 'createConnection': {
      if ((command.group === undefined) === (command.machine === undefined)) {
        throw new RekeyError('ARGUMENT_INVALID', 'a connection targets exactly one of a machine group (--group NAME) or one machine (--machine NAME)', {}, 'validation');
      }
      const target = command.group !== undefined ? { type: 'group' as const, name: command.group } : { type: 'machine' as const, name: command.machine! };
      return createConnection(engine, command.name, target, requireCredential(credential, dryRun), commandOptions);
    }
    case 'fixConnection':
      return fixConnection(engine, command.connection, requireCredential(credential, dryRun), commandOptions);
    case 'runConnection':
      return runConnection(engine, command.connection, dryRun === true, commandOptions);
    default: {
      const unknown: never = command;
      return unknown;
    }
  }
}

function requireCredential(credential: Credential | undefined, dryRun: boolean | undefined): Credential {
  if (credential) return credential;
  if (dryRun) return DRY_RUN_CREDENTIAL;
  throw new RekeyError('SECRET_REQUIRED', 'no credentials given: the connection\'s username and password are read from a prompt, --credentials-file or standard input', {}, 'validation');
}

function membersOf(engine: Engine): string[] {
  return [...engine.fleet.groups.values()].flatMap((slot) => (slot.state.lifecycle === 'active' || slot.state.lifecycle === 'expired' ? Object.keys(slot.state.members) : [])).sort();
}

/**
 * A run decrypts the credentials on a machine of the target, so only a service with machines (rekey
 * serve and its agents) can carry one out. The engine still decides what it can alone: a connection
 * that needs fixing cannot run (R18). A dry run goes on as the first online member (by name; with
 * none online, the first member) that holds a key the credentials are encrypted to would report the
 * run: ConnectionRun, and during a renewal ConnectionReencrypted for the new key it holds (R14).
 */
async function runConnection(engine: Engine, name: string, dryRun: boolean, options: CommandOptions): Promise<RecordedEvent[]> {
  await engine.processDue();
  const connection = engine.connection(name);
  if (connection.needsFix) {
    throw new RekeyError('CONNECTION_NEEDS_FIX', `desktop flow connection ${name} needs fixing (Fix connection): re-enter its credentials with rekey connection fix ${name}`, { connection: name }, 'refused');
  }
  if (!dryRun) {
    throw new RekeyError(
      RUN_NEEDS_SERVICE,
      `a run decrypts the credentials of ${name} on a machine of ${connection.target.type} ${connection.target.name}, and no machine is attached to a store opened directly; run it through the service its agents talk to (rekey connection run ${name} --server URL), or see what it would do with --dry-run`,
      { connection: name },
    );
  }
  const groupName = connection.target.type === 'group' ? connection.target.name : engine.fleet.groupOfMachine(connection.target.name);
  const group = groupName === null ? undefined : engine.fleet.group(groupName);
  const live = engine.liveCertificates(connection.target);
  const encryptedTo = new Set(connection.ciphertexts.map((c) => c.thumbprint));
  const able = group ? Object.values(group.members).filter((m) => m.status !== 3 && (connection.target.type === 'group' || m.name === connection.target.name)) : [];
  // A service queues a run until a machine checks in, so with none online the dry run shows the run
  // as the first member to come back would report it.
  const online = able.filter((m) => m.connected);
  const candidates = online.length > 0 ? online : able;
  for (const member of candidates.sort((a, b) => a.name.localeCompare(b.name))) {
    const held = member.keyVersions.map((version) => keyByVersion(group!, version)).filter((key) => key && !key.retired && live.some((c) => c.thumbprint === key.thumbprint));
    const usable = held.find((key) => encryptedTo.has(key!.thumbprint));
    if (!usable) continue;
    const missing = held.find((key) => !encryptedTo.has(key!.thumbprint));
    const reencrypted: Envelope | null = missing ? encryptCredential(missing.certificatePem, DRY_RUN_CREDENTIAL) : null;
    return engine.recordRun(name, member.name, usable.thumbprint, reencrypted, options);
  }
  return [];
}
