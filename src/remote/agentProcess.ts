/**
 * The machine agent as a process (`rekey agent`): what Power Automate's machine runtime app does on
 * a real machine, talking to the rekey service over the machine API. It mirrors the in-process
 * MachineAgent (src/engine/agent.ts) step for step, with its key store in a file of its own:
 *
 * - joins its group (R7): as the first machine it issues the group's certificate and publishes its
 *   private key only inside a PKCS#12 package under the group password; later machines open the
 *   published package with the password, locally;
 * - checks in every interval of service time (R21), issuing the renewal key when it is the first
 *   (R11: published wrapped under the current key) or taking it (R12: unwrapped locally);
 * - runs connections on request, decrypting the credentials locally and re-encrypting them to a
 *   live key they lack (R13, R14), and re-encrypts proactively when the group asks for it;
 * - rejoins with a regenerated password (R17), and regenerates the password on request.
 *
 * Nothing secret leaves it: requests carry certificates, thumbprints, password packages, wrapped
 * keys, ciphertexts and signatures.
 */
import { createPublicKey } from 'node:crypto';
import {
  createGroupCertificate,
  createPasswordPackage,
  decryptCredential,
  encryptCredential,
  generateKeyPair,
  openPasswordPackage,
  PASSWORD_INCORRECT,
  parseCertificate,
  signProof,
  unwrapPrivateKey,
  wrapPrivateKey,
} from '../crypto/index.js';
import type { Envelope } from '../kernel/envelope.js';
import { RekeyError, errorKind, isRekeyError } from '../kernel/errors.js';
import { GROUP_KEY_EXPIRED, KEY_NOT_HELD } from '../domain/group/errors.js';
import { MS_PER_MINUTE, parseInstant, plusMinutes, toIso, type Instant } from '../domain/time.js';
import { KEY_UNWRAP_MISMATCH } from '../engine/agent.js';
import { joinStatement } from '../engine/engine.js';
import { MachineClient, RemoteError, type Signer } from './client.js';
import { Keystore, type HeldGroupKey } from './keystore.js';
import { credentialStatement, type CheckInResponse, type MachineView, type RunOrder } from './protocol.js';
import { generateSigningKey, signingKeyFrom } from './signing.js';

export const AGENT_GROUP_REQUIRED = errorKind('AGENT_GROUP_REQUIRED', 'validation');
export const KEYSTORE_MISMATCH = errorKind('KEYSTORE_MISMATCH', 'validation');

/** The Power Automate for desktop version this agent reports unless told otherwise. */
export const DEFAULT_AGENT_VERSION = '2.23.116.23040';

/** One line of the agent's account of what it did (stdout, one JSON object per line with --json). */
export type AgentEvent =
  | { event: 'started'; machine: string; machineId: string; group: string | null; keystore: string }
  | { event: 'joined'; group: string; machine: string; first: boolean; keyVersion: number }
  | { event: 'checkedIn'; at: string; action: string; status: number; keyVersions: number[] }
  | { event: 'issuedKey'; group: string; keyVersion: number; thumbprint: string }
  | { event: 'tookKey'; group: string; keyVersion: number; thumbprint: string }
  | { event: 'droppedKey'; group: string; thumbprint: string }
  | { event: 'ran'; connection: string; keyThumbprint: string; reencrypted: boolean }
  | { event: 'runFailed'; connection: string; reason: string }
  | { event: 'reencrypted'; connection: string; thumbprint: string }
  | { event: 'rejoinRequired'; reason: string }
  | { event: 'rejoined'; group: string; keyVersion: number }
  | { event: 'passwordRegenerated'; group: string; keyVersion: number }
  | { event: 'error'; code: string; message: string }
  | { event: 'stopped' };

export interface AgentProcessOptions {
  readonly server: string;
  readonly name: string;
  /** The group to join (needed until the key store records one). */
  readonly group?: string;
  readonly keystoreFile: string;
  readonly machinePassphrase: () => Promise<string>;
  /** The group password: asked for only when the agent joins or rejoins. */
  readonly groupPassword: () => Promise<string>;
  /** The new group password for --regenerate-password. */
  readonly newGroupPassword?: () => Promise<string>;
  readonly agentVersion?: string;
  /** Service minutes between check-ins (R21, default 1,440). */
  readonly intervalMinutes?: number;
  /** Real seconds between polls for runs between check-ins (default 5). */
  readonly pollSeconds?: number;
  /** One check-in (after joining or rejoining), then exit. */
  readonly once?: boolean;
  readonly rejoin?: boolean;
  /** Regenerate the group password (on a machine holding the primary key), then exit. */
  readonly regeneratePassword?: boolean;
  readonly log?: (event: AgentEvent) => void;
  readonly signal?: AbortSignal;
  readonly fetch?: typeof fetch;
}

export class RemoteAgent {
  private readonly client: MachineClient;
  private readonly log: (event: AgentEvent) => void;
  private readonly agentVersion: string;
  private readonly intervalMinutes: number;
  private keystore!: Keystore;
  private signer!: Signer;
  /** KeyExpired is said once per process, not at every check-in. */
  private rejoinReported = false;

  constructor(private readonly options: AgentProcessOptions) {
    this.client = new MachineClient({ server: options.server, fetch: options.fetch });
    this.log = options.log ?? (() => undefined);
    this.agentVersion = options.agentVersion ?? DEFAULT_AGENT_VERSION;
    this.intervalMinutes = options.intervalMinutes ?? 1440;
  }

  get group(): string | null {
    return this.keystore?.contents.group ?? null;
  }

  get store(): Keystore {
    return this.keystore;
  }

  /** Opens the key store (or creates it, with a new machine id and request-signing key). */
  async open(): Promise<void> {
    const passphrase = await this.options.machinePassphrase();
    const file = this.options.keystoreFile;
    if (Keystore.exists(file)) {
      this.keystore = Keystore.open(file, passphrase);
      if (this.keystore.contents.name !== this.options.name) {
        throw new RekeyError(KEYSTORE_MISMATCH, `key store ${file} belongs to machine ${this.keystore.contents.name}, not ${this.options.name}; give each machine its own --keystore`, { file }, 'validation');
      }
    } else {
      this.keystore = Keystore.create(file, passphrase, { name: this.options.name, server: this.options.server, signingKey: generateSigningKey().privateKey });
    }
    const wanted = this.options.group;
    const joined = this.keystore.contents.group;
    if (wanted !== undefined && joined !== null && wanted !== joined) {
      throw new RekeyError(KEYSTORE_MISMATCH, `machine ${this.options.name} belongs to machine group ${joined} (per its key store ${file}), not ${wanted}`, { file }, 'validation');
    }
    this.signer = { machine: this.options.name, key: signingKeyFrom(this.keystore.contents.signingKey) };
    this.log({ event: 'started', machine: this.options.name, machineId: this.keystore.contents.machineId, group: joined, keystore: file });
  }

  /** Everything the command line asked for, then (unless --once or a one-shot action) the check-in loop. */
  async run(): Promise<void> {
    await this.open();
    if (this.options.rejoin) await this.rejoin();
    else if (this.group === null) await this.join();
    if (this.options.regeneratePassword) {
      await this.regeneratePassword();
      return;
    }
    await this.loop();
  }

  // ---- joining ---------------------------------------------------------------------------------

  /** R7: first machine issues the group certificate; later ones open the published package. */
  async join(): Promise<void> {
    const group = this.options.group;
    if (group === undefined) {
      throw new RekeyError(AGENT_GROUP_REQUIRED, `machine ${this.options.name} has not joined a group yet; name it with --group`, {}, 'validation');
    }
    const password = await this.options.groupPassword();
    for (let attempt = 0; ; attempt++) {
      const start = await this.client.joinStart(group, this.signer);
      let key: HeldGroupKey;
      let credential: Parameters<MachineClient['join']>[1]['credential'];
      if (start.hasKey) {
        const opened = this.openPackage(start.passwordPackage, group, password);
        key = { version: 0, thumbprint: opened.thumbprint, certificatePem: opened.certificatePem, privateKey: opened.privateKey };
        credential = { kind: 'password', keyThumbprint: opened.thumbprint };
      } else {
        if (start.issueAt === null) {
          throw new RekeyError(GROUP_KEY_EXPIRED, `password is incorrect: machine group ${group} cannot be joined (it has no usable key)`, { group });
        }
        const issueAt = parseInstant(start.issueAt);
        const keyPair = await generateKeyPair();
        const certificate = createGroupCertificate({ keyPair, groupName: group, version: 1, notBefore: toIso(issueAt), notAfter: toIso(plusMinutes(issueAt, start.validityMinutes)) });
        key = { version: 1, thumbprint: certificate.thumbprint, certificatePem: certificate.pem, privateKey: keyPair.privateKey };
        credential = { kind: 'firstKey', certificatePem: certificate.pem, passwordPackage: createPasswordPackage({ privateKey: keyPair.privateKey, certificatePem: certificate.pem, password }) };
      }
      try {
        const view = await this.client.join(group, {
          machine: this.options.name,
          machineId: this.keystore.contents.machineId,
          agentVersion: this.agentVersion,
          signingKey: this.signer.key.publicKeyPem,
          credential,
          proof: signProof(key.privateKey, joinStatement(group, this.options.name, key.thumbprint)),
          credentialProof: signProof(key.privateKey, credentialStatement(group, this.options.name, this.signer.key.thumbprint)),
        }, this.signer);
        const version = view.liveKeys.find((k) => k.thumbprint === key.thumbprint)?.version ?? 1;
        this.keystore.contents.group = group;
        this.keystore.contents.groupKeys = [{ ...key, version }];
        this.keystore.save();
        this.log({ event: 'joined', group, machine: this.options.name, first: credential.kind === 'firstKey', keyVersion: version });
        return;
      } catch (error) {
        // Another machine was first by a hair (join with the password it set), or the service's
        // clock moved on while the certificate was built (real time, no test clock): try again.
        const retry = isRekeyError(error) && (error.code === 'GROUP_HAS_KEY' || error.code === 'CERTIFICATE_DATES_MISMATCH');
        if (!retry || attempt >= 4) throw error;
      }
    }
  }

  /** R17: take the group's primary key again with the regenerated password. */
  async rejoin(): Promise<void> {
    const group = this.group ?? this.options.group;
    if (group === undefined || group === null) {
      throw new RekeyError(AGENT_GROUP_REQUIRED, `machine ${this.options.name} has no group in its key store; name it with --group`, {}, 'validation');
    }
    const password = await this.options.groupPassword();
    const start = await this.client.joinStart(group, this.signer);
    const opened = this.openPackage(start.passwordPackage, group, password);
    const view = await this.client.rejoin(group, {
      agentVersion: this.agentVersion,
      signingKey: this.signer.key.publicKeyPem,
      keyThumbprint: opened.thumbprint,
      proof: signProof(opened.privateKey, joinStatement(group, this.options.name, opened.thumbprint)),
      credentialProof: signProof(opened.privateKey, credentialStatement(group, this.options.name, this.signer.key.thumbprint)),
    }, this.signer);
    const version = view.liveKeys.find((k) => k.thumbprint === opened.thumbprint)?.version ?? 0;
    this.keystore.contents.group = group;
    this.keystore.contents.groupKeys = [{ version, thumbprint: opened.thumbprint, certificatePem: opened.certificatePem, privateKey: opened.privateKey }];
    this.keystore.save();
    this.log({ event: 'rejoined', group, keyVersion: version });
  }

  private openPackage(passwordPackage: string | null, group: string, password: string) {
    if (passwordPackage === null) {
      throw new RekeyError(PASSWORD_INCORRECT, `password is incorrect: machine group ${group} has no password yet`, { group });
    }
    return openPasswordPackage(passwordPackage, password);
  }

  /** R17: publish the primary key under a new password; only a machine holding it can. */
  async regeneratePassword(): Promise<void> {
    const group = this.requireGroup();
    const view = await this.client.machine(group, this.signer);
    const primary = view.liveKeys.find((k) => k.primary);
    const held = primary ? this.keystore.groupKey(primary.thumbprint) : undefined;
    if (!primary || !held) {
      throw new RekeyError(KEY_NOT_HELD, `machine ${this.options.name} does not hold the primary key of ${group}; regenerate the password on a machine that does`, { machine: this.options.name });
    }
    const newPassword = await (this.options.newGroupPassword ?? this.options.groupPassword)();
    const passwordPackage = createPasswordPackage({ privateKey: held.privateKey, certificatePem: held.certificatePem, password: newPassword });
    await this.client.regeneratePassword(group, { packageThumbprint: primary.thumbprint, passwordPackage }, this.signer);
    this.log({ event: 'passwordRegenerated', group, keyVersion: primary.version });
  }

  // ---- checking in -------------------------------------------------------------------------------

  /** One check-in (R11, R12, R14) and whatever it asks for. */
  async checkIn(): Promise<CheckInResponse> {
    const group = this.requireGroup();
    for (let attempt = 0; ; attempt++) {
      const response = await this.client.checkIn(group, { agentVersion: this.agentVersion, intervalMinutes: this.intervalMinutes, heldKeys: this.keystore.heldThumbprints() }, this.signer);
      this.forgetRetiredKeys(response.machine);
      this.log({ event: 'checkedIn', at: response.now, action: response.action.kind, status: response.machine.status, keyVersions: [...response.machine.keyVersions] });
      const action = response.action;
      if (action.kind === 'issue') {
        const again = await this.issue(group, action);
        if (again && attempt < 4) continue; // someone else issued it, or the clock moved: check in again to take it
      } else if (action.kind === 'take') {
        await this.take(group, action.key);
      } else if (action.kind === 'rejoin') {
        if (!this.rejoinReported) this.log({ event: 'rejoinRequired', reason: action.reason });
        this.rejoinReported = true;
      }
      await this.runAll(group, response.runs);
      for (const order of response.reencrypt) await this.reencryptProactively(group, order);
      return response;
    }
  }

  /** Issues the renewal key; true when the check-in should be repeated (lost the race, or a clock miss). */
  private async issue(group: string, action: Extract<CheckInResponse['action'], { kind: 'issue' }>): Promise<boolean> {
    const oldKey = this.keystore.groupKey(action.oldKeyThumbprint);
    if (!oldKey) return false;
    const issueAt = parseInstant(action.issueAt);
    const keyPair = await generateKeyPair();
    const certificate = createGroupCertificate({ keyPair, groupName: group, version: action.version, notBefore: toIso(issueAt), notAfter: toIso(plusMinutes(issueAt, action.validityMinutes)) });
    const held: HeldGroupKey = { version: action.version, thumbprint: certificate.thumbprint, certificatePem: certificate.pem, privateKey: keyPair.privateKey };
    // Kept before it is published: the service counts the issuer as holding it from then on.
    this.keystore.contents.groupKeys.push(held);
    this.keystore.save();
    try {
      await this.client.publishKey(group, { certificatePem: certificate.pem, wrappedUnderPrevious: wrapPrivateKey(keyPair.privateKey, oldKey.certificatePem) }, this.signer);
    } catch (error) {
      this.keystore.contents.groupKeys = this.keystore.contents.groupKeys.filter((k) => k.thumbprint !== held.thumbprint);
      this.keystore.save();
      if (isRekeyError(error) && (error.code === 'KEY_ALREADY_ISSUED' || error.code === 'CERTIFICATE_DATES_MISMATCH')) return true;
      throw error;
    }
    this.log({ event: 'issuedKey', group, keyVersion: action.version, thumbprint: certificate.thumbprint });
    return false;
  }

  /** R12: unwrap the new key with the old one, check it is the new certificate's, keep it, say so. */
  private async take(group: string, key: Extract<CheckInResponse['action'], { kind: 'take' }>['key']): Promise<void> {
    if (!this.keystore.groupKey(key.thumbprint)) {
      const wrapper = this.keystore.groupKey(key.wrappedUnderPrevious.thumbprint);
      if (!wrapper) return;
      const privateKey = unwrapPrivateKey(key.wrappedUnderPrevious, wrapper.privateKey, wrapper.thumbprint);
      const spki = (k: ReturnType<typeof createPublicKey>) => k.export({ type: 'spki', format: 'der' });
      if (!spki(createPublicKey(privateKey)).equals(spki(parseCertificate(key.certificatePem).publicKey))) {
        throw new RekeyError(KEY_UNWRAP_MISMATCH, 'the unwrapped key does not match the group\'s new certificate; the wrapped key was tampered with', {});
      }
      this.keystore.contents.groupKeys.push({ version: key.version, thumbprint: key.thumbprint, certificatePem: key.certificatePem, privateKey });
      this.keystore.save();
    }
    await this.client.ackKey(group, { keyThumbprint: key.thumbprint }, this.signer);
    this.log({ event: 'tookKey', group, keyVersion: key.version, thumbprint: key.thumbprint });
  }

  /** R13, R15: a retired key leaves the key store, so no run can ever use it again. */
  private forgetRetiredKeys(view: MachineView): void {
    if (view.groupState !== 'active') return;
    const live = new Set(view.liveKeys.map((k) => k.thumbprint));
    const dropped = this.keystore.contents.groupKeys.filter((k) => !live.has(k.thumbprint));
    if (dropped.length === 0) return;
    this.keystore.contents.groupKeys = this.keystore.contents.groupKeys.filter((k) => live.has(k.thumbprint));
    this.keystore.save();
    for (const key of dropped) this.log({ event: 'droppedKey', group: view.group, thumbprint: key.thumbprint });
  }

  // ---- runs ------------------------------------------------------------------------------------

  /** Asks for waiting runs between check-ins. */
  async pollRuns(): Promise<void> {
    const group = this.requireGroup();
    const { runs } = await this.client.runs(group, this.signer);
    await this.runAll(group, runs);
  }

  private async runAll(group: string, orders: readonly RunOrder[]): Promise<void> {
    for (const order of orders) await this.runOne(group, order);
  }

  /** Decrypts locally with the newest live key it holds; re-encrypts to a live key the connection lacks (R14). */
  private async runOne(group: string, order: RunOrder): Promise<void> {
    const usable = order.ciphertexts
      .map((ciphertext) => ({ ciphertext, key: this.keystore.groupKey(ciphertext.thumbprint) }))
      .filter((x): x is { ciphertext: Envelope; key: HeldGroupKey } => x.key !== undefined)
      .sort((a, b) => b.key.version - a.key.version)[0];
    if (!usable) {
      await this.client.reportRun(group, order.runId, { outcome: 'failed', reason: 'noUsableKey' }, this.signer);
      this.log({ event: 'runFailed', connection: order.connection, reason: 'noUsableKey' });
      return;
    }
    let credential;
    try {
      credential = decryptCredential(usable.ciphertext, usable.key.privateKey, usable.key.thumbprint);
    } catch {
      await this.client.reportRun(group, order.runId, { outcome: 'failed', reason: 'decryptionFailed' }, this.signer);
      this.log({ event: 'runFailed', connection: order.connection, reason: 'decryptionFailed' });
      return;
    }
    // The desktop flow would sign in with the credential here; it never leaves this process.
    let reencrypted: Envelope | null = null;
    for (const live of order.liveCertificates) {
      if (this.keystore.groupKey(live.thumbprint) && !order.ciphertexts.some((c) => c.thumbprint === live.thumbprint)) {
        reencrypted = encryptCredential(live.pem, credential);
      }
    }
    await this.client.reportRun(group, order.runId, { outcome: 'run', keyThumbprint: usable.key.thumbprint, reencrypted }, this.signer);
    this.log({ event: 'ran', connection: order.connection, keyThumbprint: usable.key.thumbprint, reencrypted: reencrypted !== null });
  }

  private async reencryptProactively(group: string, order: CheckInResponse['reencrypt'][number]): Promise<void> {
    const key = this.keystore.groupKey(order.ciphertext.thumbprint);
    if (!key || !this.keystore.groupKey(order.newCertificate.thumbprint)) return;
    const credential = decryptCredential(order.ciphertext, key.privateKey, key.thumbprint);
    await this.client.reencrypt(group, { connection: order.connection, ciphertext: encryptCredential(order.newCertificate.pem, credential) }, this.signer);
    this.log({ event: 'reencrypted', connection: order.connection, thumbprint: order.newCertificate.thumbprint });
  }

  // ---- the loop ----------------------------------------------------------------------------------

  /**
   * Checks in at once, then every `intervalMinutes` of the service's time (read from the service,
   * which may run a test clock faster than real time), polling for runs in between. Transient
   * failures (service unreachable, a conflict) are reported and retried with a growing pause; a
   * refusal that retrying cannot mend (401, 403) ends the agent.
   */
  async loop(): Promise<void> {
    const signal = this.options.signal;
    const pollMs = Math.max(10, (this.options.pollSeconds ?? 5) * 1000);
    const intervalMs = this.intervalMinutes * MS_PER_MINUTE;
    let nextCheckIn: Instant | null = null;
    let nextPoll = 0;
    let backoff = 0;
    try {
      while (!signal?.aborted) {
        let sleepMs = pollMs;
        try {
          const time = await this.client.time();
          let now = parseInstant(time.now);
          if (nextCheckIn === null || now >= nextCheckIn) {
            const response = await this.checkIn();
            now = parseInstant(response.now);
            nextCheckIn = nextCheckIn === null || nextCheckIn + intervalMs <= now ? now + intervalMs : nextCheckIn + intervalMs;
            nextPoll = performance.now() + pollMs;
            if (this.options.once) return;
          } else if (performance.now() >= nextPoll) {
            await this.pollRuns();
            nextPoll = performance.now() + pollMs;
          }
          // Service time runs `speed` times faster than real time (and stands still while held).
          sleepMs = Math.max(10, Math.min((nextCheckIn - now) / time.speed, nextPoll - performance.now(), 60_000));
          backoff = 0;
        } catch (error) {
          if (error instanceof RemoteError && (error.status === 401 || error.status === 403)) throw error;
          if (this.options.once) throw error;
          const rekey = isRekeyError(error) ? error : new RekeyError('INTERNAL', (error as Error)?.message ?? String(error), {}, 'internal');
          this.log({ event: 'error', code: rekey.code, message: rekey.message });
          backoff = Math.min(30_000, backoff === 0 ? 500 : backoff * 2);
          sleepMs = backoff;
        }
        await sleep(sleepMs, signal);
      }
    } finally {
      await this.goOffline();
    }
  }

  /** Tells the service the session ended (best effort: an agent killed outright cannot). */
  private async goOffline(): Promise<void> {
    const group = this.group;
    if (group === null) return;
    try {
      await this.client.disconnect(group, this.signer);
    } catch {
      // The service records a silent machine as disconnected after a few missed check-ins.
    }
    this.log({ event: 'stopped' });
  }

  private requireGroup(): string {
    const group = this.group;
    if (group === null) throw new RekeyError(AGENT_GROUP_REQUIRED, `machine ${this.options.name} has not joined a group yet; name it with --group`, {}, 'validation');
    return group;
  }
}

/** `rekey agent`'s work: join or rejoin as asked, then check in until stopped. */
export async function runAgent(options: AgentProcessOptions): Promise<void> {
  await new RemoteAgent(options).run();
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
