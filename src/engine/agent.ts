/**
 * The machine side: what Power Automate's machine runtime app does on one machine. Its key store
 * (the group keys it holds, by thumbprint) lives here, with the machine, and never reaches the
 * engine: the engine receives certificates, password packages, wrapped keys and ciphertexts only.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import {
  createGroupCertificate,
  createPasswordPackage,
  decryptCredential,
  encryptCredential,
  openPasswordPackage,
  parseCertificate,
  signProof,
  unwrapPrivateKey,
  wrapPrivateKey,
} from '../crypto/index.js';
import type { KeyPairSource } from '../crypto/types.js';
import type { Envelope } from '../kernel/envelope.js';
import { takesPartInRenewals } from '../domain/agentVersion.js';
import { RekeyError, errorKind } from '../kernel/errors.js';
import type { ConnectionState } from '../domain/connection/state.js';
import { GROUP_HAS_KEY, MACHINE_NOT_MEMBER } from '../domain/group/errors.js';
import { keyByVersion, liveKeys, primaryKey, type GroupState } from '../domain/group/state.js';
import { MAX_VALIDITY_MINUTES } from '../domain/periods.js';
import { plusMinutes, toIso } from '../domain/time.js';
import { joinStatement, type Engine } from './engine.js';

export const NO_USABLE_KEY = errorKind('NO_USABLE_KEY', 'refused');
export const KEY_UNWRAP_MISMATCH = errorKind('KEY_UNWRAP_MISMATCH', 'integrity');

interface HeldKey {
  readonly thumbprint: string;
  readonly privateKey: KeyObject;
  readonly certificatePem: string;
  /** null for the machine's own key, outside any group. */
  readonly group: string | null;
}

export interface CheckInOutcome {
  readonly issuedKey: boolean;
  readonly receivedKey: boolean;
  readonly reencrypted: number;
}

export interface AgentOptions {
  readonly engine: Engine;
  readonly machineId: string;
  readonly name: string;
  readonly agentVersion: string;
  readonly keys: KeyPairSource;
}

export class MachineAgent {
  readonly machineId: string;
  readonly name: string;
  agentVersion: string;
  private readonly engine: Engine;
  private readonly keys: KeyPairSource;
  private readonly keyStore = new Map<string, HeldKey>();

  constructor(options: AgentOptions) {
    this.engine = options.engine;
    this.machineId = options.machineId;
    this.name = options.name;
    this.agentVersion = options.agentVersion;
    this.keys = options.keys;
  }

  get group(): string | null {
    return this.engine.fleet.groupOfMachine(this.name);
  }

  heldThumbprints(): string[] {
    return [...this.keyStore.keys()];
  }

  /**
   * Puts a key in this machine's key store without going through the engine: for a simulation that
   * continues a recorded or imported state (`rekey forecast`, scenario `from`), whose machines start
   * out holding stand-ins for the keys the real machines hold. `group` is null for the machine's own key.
   */
  holdKey(key: { thumbprint: string; privateKey: KeyObject; certificatePem: string; group: string | null }): void {
    this.keyStore.set(key.thumbprint, { thumbprint: key.thumbprint, privateKey: key.privateKey, certificatePem: key.certificatePem, group: key.group });
  }

  /** R7: the first machine issues the group certificate and sets the password; later ones open the package. */
  async join(group: string, password: string): Promise<void> {
    const state = this.engine.group(group);
    if (!primaryKey(state)) {
      try {
        await this.joinAsFirst(group, state, password);
        return;
      } catch (error) {
        // Another machine was first by a hair: join with the password it set.
        if (!(error instanceof RekeyError && error.code === GROUP_HAS_KEY)) throw error;
      }
    }
    const opened = this.openPackage(this.engine.group(group), password);
    await this.engine.joinMachine({
      group,
      machineId: this.machineId,
      machine: this.name,
      agentVersion: this.agentVersion,
      credential: { kind: 'password', keyThumbprint: opened.thumbprint },
      proof: signProof(opened.privateKey, joinStatement(group, this.name, opened.thumbprint)),
    });
    this.keyStore.set(opened.thumbprint, { ...opened, group });
  }

  private async joinAsFirst(group: string, state: GroupState, password: string): Promise<void> {
    const now = this.engine.clock.now();
    const keyPair = await this.keys.next();
    const certificate = createGroupCertificate({
      keyPair,
      groupName: group,
      version: 1,
      notBefore: toIso(now),
      notAfter: toIso(plusMinutes(now, state.effective.validity)),
    });
    const passwordPackage = createPasswordPackage({ privateKey: keyPair.privateKey, certificatePem: certificate.pem, password });
    const parsed = parseCertificate(certificate.pem);
    await this.engine.joinMachine({
      group,
      machineId: this.machineId,
      machine: this.name,
      agentVersion: this.agentVersion,
      credential: {
        kind: 'firstKey',
        certificate: { pem: certificate.pem, thumbprint: parsed.thumbprint, notBefore: Date.parse(parsed.notBefore), notAfter: Date.parse(parsed.notAfter) },
        passwordPackage,
      },
      proof: signProof(keyPair.privateKey, joinStatement(group, this.name, parsed.thumbprint)),
    });
    this.keyStore.set(parsed.thumbprint, { thumbprint: parsed.thumbprint, privateKey: keyPair.privateKey, certificatePem: certificate.pem, group });
  }

  /** R17: a machine that missed a renewal takes the primary key again with the regenerated password. */
  async rejoin(password: string): Promise<void> {
    const group = this.requireGroup();
    const opened = this.openPackage(this.engine.group(group), password);
    await this.engine.rejoinMachine({
      group,
      machine: this.name,
      agentVersion: this.agentVersion,
      keyThumbprint: opened.thumbprint,
      proof: signProof(opened.privateKey, joinStatement(group, this.name, opened.thumbprint)),
    });
    this.forgetGroupKeys();
    this.keyStore.set(opened.thumbprint, { ...opened, group });
  }

  private openPackage(state: GroupState, password: string) {
    if (!state.passwordPackage) {
      throw new RekeyError('PASSWORD_INCORRECT', 'password is incorrect: the machine group has no password yet', { group: state.name });
    }
    return openPasswordPackage(state.passwordPackage, password);
  }

  /**
   * One check-in (R11, R12, R14): issue the renewal key when this machine is the first eligible one,
   * or take it, unwrapped with the current key; with proactive re-encryption on, re-encrypt the
   * group's connections still on the old key only.
   */
  async checkIn(): Promise<CheckInOutcome> {
    const group = this.group;
    const outcome = { issuedKey: false, receivedKey: false, reencrypted: 0 };
    if (group === null) return outcome;
    let state = this.engine.group(group);
    this.forgetRetiredKeys(state);
    const member = state.members[this.name];
    const renewal = state.renewal;
    if (!member || member.status === 3 || !renewal || !takesPartInRenewals(member.agentVersion)) return outcome;
    const oldKey = keyByVersion(state, renewal.oldVersion)!;
    const oldHeld = this.keyStore.get(oldKey.thumbprint);
    if (!oldHeld) return outcome;

    if (renewal.newVersion === null) {
      outcome.issuedKey = await this.issueRenewalKey(group, state, oldKey.certificatePem);
      state = this.engine.group(group);
    }
    // The issuer already holds its fresh key (stored by issueRenewalKey); the others unwrap it.
    const newKey = keyByVersion(state, state.renewal?.newVersion ?? null);
    if (newKey && !this.keyStore.has(newKey.thumbprint)) {
      const privateKey = unwrapPrivateKey(newKey.wrappedUnderPrevious!, oldHeld.privateKey);
      this.requireMatchingKey(privateKey, newKey.certificatePem);
      await this.engine.acceptNewKey(group, this.name);
      this.keyStore.set(newKey.thumbprint, { thumbprint: newKey.thumbprint, privateKey, certificatePem: newKey.certificatePem, group });
      outcome.receivedKey = true;
    }
    state = this.engine.group(group);
    if (state.proactiveReencryption && newKey && this.keyStore.has(newKey.thumbprint)) {
      outcome.reencrypted = await this.reencryptGroupConnections(group, oldHeld, newKey.certificatePem, newKey.thumbprint);
    }
    return outcome;
  }

  private async issueRenewalKey(group: string, state: GroupState, oldCertificatePem: string): Promise<boolean> {
    const now = this.engine.clock.now();
    const keyPair = await this.keys.next();
    const certificate = createGroupCertificate({
      keyPair,
      groupName: group,
      version: (primaryKey(state)?.version ?? 0) + 1,
      notBefore: toIso(now),
      notAfter: toIso(plusMinutes(now, state.effective.validity)),
    });
    try {
      await this.engine.issueRenewalKey(group, this.name, certificate.pem, wrapPrivateKey(keyPair.privateKey, oldCertificatePem));
      this.keyStore.set(certificate.thumbprint, { thumbprint: certificate.thumbprint, privateKey: keyPair.privateKey, certificatePem: certificate.pem, group });
      return true;
    } catch (error) {
      // Another machine issued it first: this one takes that key instead (R11, R12).
      if (error instanceof RekeyError && error.code === 'KEY_ALREADY_ISSUED') return false;
      throw error;
    }
  }

  private async reencryptGroupConnections(group: string, oldHeld: HeldKey, newPem: string, newThumbprint: string): Promise<number> {
    let count = 0;
    for (const connection of this.engine.fleet.connectionsTargeting(group)) {
      if (connection.needsFix || connection.ciphertexts.some((c) => c.thumbprint === newThumbprint)) continue;
      const old = connection.ciphertexts.find((c) => c.thumbprint === oldHeld.thumbprint);
      if (!old) continue;
      const credential = decryptCredential(old, oldHeld.privateKey);
      const recorded = await this.engine.reencrypt(connection.name, this.name, encryptCredential(newPem, credential), true);
      count += recorded.length > 0 ? 1 : 0;
    }
    return count;
  }

  /** The live key this machine would decrypt the connection with, preferring the newest; null if none. */
  usableKeyFor(connection: ConnectionState): HeldKey | null {
    const live = this.engine.liveCertificates(connection.target).map((c) => c.thumbprint);
    if (connection.target.type === 'machine' && connection.target.name !== this.name) return null;
    const member = this.group !== null ? this.engine.group(this.group).members[this.name] : undefined;
    if (member?.status === 3) return null;
    for (let i = live.length - 1; i >= 0; i--) {
      const thumbprint = live[i]!;
      const held = this.keyStore.get(thumbprint);
      if (held && connection.ciphertexts.some((c) => c.thumbprint === thumbprint)) return held;
    }
    return null;
  }

  /** Runs a connection here: decrypts its credential locally and, holding both keys, re-encrypts it (R13, R14). */
  async run(connectionName: string): Promise<{ keyThumbprint: string; reencrypted: boolean; username: string }> {
    const connection = this.engine.connection(connectionName);
    const held = this.usableKeyFor(connection);
    if (!held) {
      throw new RekeyError(NO_USABLE_KEY, `machine ${this.name} holds no live key that connection ${connectionName} is encrypted to`, { machine: this.name, connection: connectionName });
    }
    const credential = decryptCredential(connection.ciphertexts.find((c) => c.thumbprint === held.thumbprint)!, held.privateKey);
    let reencrypted: Envelope | null = null;
    for (const live of this.engine.liveCertificates(connection.target)) {
      if (this.keyStore.has(live.thumbprint) && !connection.ciphertexts.some((c) => c.thumbprint === live.thumbprint)) {
        reencrypted = encryptCredential(live.pem, credential);
      }
    }
    await this.engine.recordRun(connectionName, this.name, held.thumbprint, reencrypted);
    return { keyThumbprint: held.thumbprint, reencrypted: reencrypted !== null, username: credential.username };
  }

  /** R17: publish the primary key under a new password; needs a machine that holds the primary key. */
  async regeneratePassword(newPassword: string): Promise<void> {
    const group = this.requireGroup();
    const primary = primaryKey(this.engine.group(group))!;
    const held = this.keyStore.get(primary.thumbprint);
    if (!held) {
      throw new RekeyError('KEY_NOT_HELD', `machine ${this.name} does not hold the primary key of ${group}; regenerate the password on a machine that does`, { machine: this.name });
    }
    const passwordPackage = createPasswordPackage({ privateKey: held.privateKey, certificatePem: held.certificatePem, password: newPassword });
    await this.engine.regeneratePassword(group, this.name, primary.thumbprint, passwordPackage);
  }

  async updateAgent(agentVersion: string): Promise<void> {
    const group = this.group;
    if (group !== null) await this.engine.reportAgentVersion(group, this.name, agentVersion);
    this.agentVersion = agentVersion;
  }

  /** A lone machine's own key pair and certificate, for connections that target it alone (R20). */
  async register(): Promise<void> {
    if ([...this.keyStore.values()].some((key) => key.group === null)) return;
    const now = this.engine.clock.now();
    const keyPair = await this.keys.next();
    const certificate = createGroupCertificate({ keyPair, groupName: `machine ${this.name}`, version: 1, notBefore: toIso(now), notAfter: toIso(plusMinutes(now, MAX_VALIDITY_MINUTES)) });
    await this.engine.registerMachine({ machineId: this.machineId, name: this.name, agentVersion: this.agentVersion, certificatePem: certificate.pem });
    this.keyStore.set(certificate.thumbprint, { thumbprint: certificate.thumbprint, privateKey: keyPair.privateKey, certificatePem: certificate.pem, group: null });
  }

  private requireGroup(): string {
    const group = this.group;
    if (group === null) throw new RekeyError(MACHINE_NOT_MEMBER, `machine ${this.name} is not a member of any machine group`, { machine: this.name });
    return group;
  }

  /** R13, R15: a retired key is dropped from the key store, so no run can ever use it. */
  private forgetRetiredKeys(state: GroupState): void {
    const live = new Set(liveKeys(state).map((key) => key.thumbprint));
    for (const [thumbprint, held] of this.keyStore) {
      if (held.group !== null && !live.has(thumbprint)) this.keyStore.delete(thumbprint);
    }
  }

  private forgetGroupKeys(): void {
    for (const [thumbprint, held] of this.keyStore) if (held.group !== null) this.keyStore.delete(thumbprint);
  }

  /** A wrapped key is only taken when it is the private half of the new certificate. */
  private requireMatchingKey(privateKey: KeyObject, certificatePem: string): void {
    const spki = (key: KeyObject) => key.export({ type: 'spki', format: 'der' });
    if (!spki(createPublicKey(privateKey)).equals(spki(parseCertificate(certificatePem).publicKey))) {
      throw new RekeyError(KEY_UNWRAP_MISMATCH, `the unwrapped key does not match the group's new certificate; the wrapped key was tampered with`, {});
    }
  }
}
