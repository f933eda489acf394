/**
 * A machine's key store as a file of its own (docs/model.md, Events: "for a real machine in a file of
 * its own, encrypted under a machine passphrase"). It holds the machine's identity, its
 * request-signing key and the group keys it holds (private keys in PKCS#8), as JSON encrypted with
 * AES-256-GCM under a key derived from the passphrase with scrypt. The header (format, version, KDF
 * parameters, salt) is bound as GCM additional data, so it cannot be altered either.
 *
 * Writes are atomic: a temporary file in the same directory, created with mode 0600, written,
 * flushed to disk, then renamed over the old file; a crash leaves the old store or the new one,
 * never half of one. A restarted agent carries on from it.
 */
import { createCipheriv, createDecipheriv, createPrivateKey, randomBytes, randomUUID, scryptSync, type KeyObject } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { RekeyError, errorKind } from '../kernel/errors.js';

export const KEYSTORE_PASSPHRASE_INCORRECT = errorKind('KEYSTORE_PASSPHRASE_INCORRECT', 'refused');
export const KEYSTORE_CORRUPT = errorKind('KEYSTORE_CORRUPT', 'validation');

const FORMAT = 'rekey-agent-keystore';
const VERSION = 1;
/** scrypt cost: 2^15 with r = 8 takes about 32 MiB and 100 ms, once per agent start. */
const SCRYPT = { N: 1 << 15, r: 8, p: 1 } as const;
const SCRYPT_MAXMEM = 128 * SCRYPT.N * SCRYPT.r * 2;

export interface HeldGroupKey {
  readonly version: number;
  readonly thumbprint: string;
  readonly certificatePem: string;
  readonly privateKey: KeyObject;
}

/** What the agent keeps between runs. */
export interface KeystoreContents {
  readonly machineId: string;
  readonly name: string;
  readonly server: string;
  /** The group this machine joined; null before it joins. */
  group: string | null;
  signingKey: KeyObject;
  groupKeys: HeldGroupKey[];
}

interface FileHeader {
  readonly format: string;
  readonly version: number;
  readonly kdf: { readonly name: 'scrypt'; readonly N: number; readonly r: number; readonly p: number; readonly salt: string };
  readonly cipher: 'aes-256-gcm';
}

interface StoredFile extends FileHeader {
  readonly iv: string;
  readonly tag: string;
  readonly ciphertext: string;
}

interface PlainContents {
  machineId: string;
  name: string;
  server: string;
  group: string | null;
  signingKey: string;
  groupKeys: { version: number; thumbprint: string; certificatePem: string; privateKey: string }[];
}

/** An open key store: its contents in memory and the derived key to save them again. */
export class Keystore {
  private constructor(
    readonly file: string,
    readonly contents: KeystoreContents,
    private readonly header: FileHeader,
    private readonly key: Buffer,
  ) {}

  static exists(file: string): boolean {
    return existsSync(file);
  }

  /** A new key store for a machine that has not joined yet (written at once). */
  static create(file: string, passphrase: string, contents: Omit<KeystoreContents, 'machineId' | 'group' | 'groupKeys'> & { machineId?: string }): Keystore {
    requirePassphrase(passphrase);
    const salt = randomBytes(16);
    const header: FileHeader = { format: FORMAT, version: VERSION, kdf: { name: 'scrypt', ...SCRYPT, salt: salt.toString('base64') }, cipher: 'aes-256-gcm' };
    const store = new Keystore(file, { machineId: contents.machineId ?? randomUUID(), name: contents.name, server: contents.server, group: null, signingKey: contents.signingKey, groupKeys: [] }, header, derive(passphrase, header));
    store.save();
    return store;
  }

  static open(file: string, passphrase: string): Keystore {
    requirePassphrase(passphrase);
    let stored: StoredFile;
    try {
      stored = JSON.parse(readFileSync(file, 'utf8')) as StoredFile;
    } catch (error) {
      throw new RekeyError(KEYSTORE_CORRUPT, `key store ${file} is not a rekey agent key store (${(error as NodeJS.ErrnoException).code ?? 'not JSON'})`, { file }, 'validation');
    }
    if (stored?.format !== FORMAT || stored.version !== VERSION || stored.cipher !== 'aes-256-gcm' || stored.kdf?.name !== 'scrypt' ||
      !Number.isSafeInteger(stored.kdf.N) || stored.kdf.N > 1 << 20 || stored.kdf.r > 32 || stored.kdf.p > 16) {
      throw new RekeyError(KEYSTORE_CORRUPT, `key store ${file} has an unknown format or absurd parameters`, { file }, 'validation');
    }
    const header: FileHeader = { format: stored.format, version: stored.version, kdf: { name: 'scrypt', N: stored.kdf.N, r: stored.kdf.r, p: stored.kdf.p, salt: stored.kdf.salt }, cipher: stored.cipher };
    const key = derive(passphrase, header);
    let plain: Buffer;
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(stored.iv, 'base64'));
      decipher.setAAD(Buffer.from(JSON.stringify(header)));
      decipher.setAuthTag(Buffer.from(stored.tag, 'base64'));
      plain = Buffer.concat([decipher.update(Buffer.from(stored.ciphertext, 'base64')), decipher.final()]);
    } catch {
      throw new RekeyError(KEYSTORE_PASSPHRASE_INCORRECT, `the machine passphrase does not open key store ${file} (wrong passphrase, or the file was altered)`, { file });
    }
    try {
      const parsed = JSON.parse(plain.toString('utf8')) as PlainContents;
      return new Keystore(file, {
        machineId: parsed.machineId,
        name: parsed.name,
        server: parsed.server,
        group: parsed.group,
        signingKey: createPrivateKey(parsed.signingKey),
        groupKeys: parsed.groupKeys.map((k) => ({ version: k.version, thumbprint: k.thumbprint, certificatePem: k.certificatePem, privateKey: createPrivateKey(k.privateKey) })),
      }, header, key);
    } finally {
      plain.fill(0);
    }
  }

  /** Writes the contents atomically (temp file with mode 0600, fsync, rename). */
  save(): void {
    const c = this.contents;
    const plain: PlainContents = {
      machineId: c.machineId,
      name: c.name,
      server: c.server,
      group: c.group,
      signingKey: c.signingKey.export({ type: 'pkcs8', format: 'pem' }) as string,
      groupKeys: c.groupKeys.map((k) => ({ version: k.version, thumbprint: k.thumbprint, certificatePem: k.certificatePem, privateKey: k.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string })),
    };
    const bytes = Buffer.from(JSON.stringify(plain), 'utf8');
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(JSON.stringify(this.header)));
    const ciphertext = Buffer.concat([cipher.update(bytes), cipher.final()]);
    bytes.fill(0);
    const stored: StoredFile = { ...this.header, iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), ciphertext: ciphertext.toString('base64') };
    writeAtomically(this.file, `${JSON.stringify(stored, null, 2)}\n`);
  }

  heldThumbprints(): string[] {
    return this.contents.groupKeys.map((k) => k.thumbprint);
  }

  groupKey(thumbprint: string): HeldGroupKey | undefined {
    return this.contents.groupKeys.find((k) => k.thumbprint === thumbprint);
  }
}

function requirePassphrase(passphrase: string): void {
  if (typeof passphrase !== 'string' || passphrase.length === 0) {
    throw new RekeyError(KEYSTORE_PASSPHRASE_INCORRECT, 'the machine passphrase is empty; set REKEY_MACHINE_PASSPHRASE or type it at the prompt', {});
  }
}

function derive(passphrase: string, header: FileHeader): Buffer {
  const { N, r, p, salt } = header.kdf;
  return scryptSync(Buffer.from(passphrase.normalize('NFC'), 'utf8'), Buffer.from(salt, 'base64'), 32, { N, r, p, maxmem: Math.max(SCRYPT_MAXMEM, 128 * N * r * 2) });
}

function writeAtomically(file: string, text: string): void {
  const dir = dirname(file);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const temp = join(dir, `.${basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(temp, 'wx', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    unlinkSync(temp);
    throw error;
  }
  closeSync(fd);
  renameSync(temp, file);
  try {
    const dirFd = openSync(dir, 'r');
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
  } catch {
    // Some file systems do not let a directory be opened for fsync; the rename is still atomic.
  }
}
