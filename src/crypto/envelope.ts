/**
 * Envelope encryption to a group key: a fresh AES-256-GCM key per message, wrapped for the
 * certificate's RSA key with RSA-OAEP.
 *
 * Choices and why:
 * - OAEP with SHA-256 for both the label hash and MGF1 (`oaepHash: 'sha256'`), never SHA-1, which is
 *   Node's and forge's default.
 * - All of it runs in Node's crypto (OpenSSL): forge's RSA decryption is pure JavaScript and about
 *   75x slower.
 * - GCM authenticates the ciphertext; the algorithm name and the recipient thumbprint are bound as
 *   additional authenticated data, so an envelope relabelled for another key fails to decrypt
 *   instead of being tried as if it were something else.
 * - A random 96-bit IV per message is safe: each content key encrypts exactly one message.
 */
import { constants, createCipheriv, createDecipheriv, privateDecrypt, publicEncrypt, randomBytes, type KeyObject } from 'node:crypto';
import { RekeyError } from '../kernel/errors.js';
import { DECRYPTION_FAILED, cryptoError } from './errors.js';
import { resolveRecipient, type Recipient } from './recipients.js';
import type { Envelope } from '../kernel/envelope.js';

export const ENVELOPE_ALG = 'RSA-OAEP-256+A256GCM' as const;
const CONTENT_KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Encrypts `plaintext` so that only the holder of the certificate's private key can read it. */
export function encryptTo(recipient: string | Recipient, plaintext: Uint8Array): Envelope {
  const { publicKey, thumbprint } = resolveRecipient(recipient);
  if (!(plaintext instanceof Uint8Array)) throw new TypeError('plaintext must be a Buffer or Uint8Array');
  const contentKey = randomBytes(CONTENT_KEY_BYTES);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', contentKey, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(additionalData(thumbprint));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  const encryptedKey = publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, contentKey);
  contentKey.fill(0);
  return {
    alg: ENVELOPE_ALG,
    thumbprint,
    encryptedKey: encryptedKey.toString('base64'),
    iv: iv.toString('base64'),
    tag: cipher.getAuthTag().toString('base64'),
    ciphertext: ciphertext.toString('base64'),
  };
}

/**
 * Decrypts an envelope with a private key. DECRYPTION_FAILED, naming the envelope's thumbprint,
 * when the key is not the recipient's, the envelope was altered, or it is not for
 * `expectedThumbprint` (when given).
 */
export function decryptWith(envelope: Envelope, privateKey: KeyObject, expectedThumbprint?: string): Buffer {
  if (privateKey?.type !== 'private') throw new TypeError('privateKey must be a private KeyObject');
  const thumbprint = typeof envelope?.thumbprint === 'string' ? envelope.thumbprint : '(none)';
  const fail = (reason: string): RekeyError =>
    cryptoError(DECRYPTION_FAILED, `cannot decrypt the envelope for key ${thumbprint}: ${reason}`, { thumbprint, reason });

  if (expectedThumbprint !== undefined && thumbprint.toUpperCase() !== expectedThumbprint.toUpperCase()) {
    throw fail(`it is encrypted to key ${thumbprint}, not to key ${expectedThumbprint}`);
  }
  if (envelope?.alg !== ENVELOPE_ALG) throw fail(`algorithm ${String(envelope?.alg)} is not ${ENVELOPE_ALG}`);
  const iv = base64Field(envelope.iv);
  const tag = base64Field(envelope.tag);
  const encryptedKey = base64Field(envelope.encryptedKey);
  const ciphertext = base64Field(envelope.ciphertext);
  if (!iv || iv.length !== IV_BYTES || !tag || tag.length !== TAG_BYTES || !encryptedKey || !ciphertext) {
    throw fail('it is malformed (fields missing, not base64, or of the wrong size)');
  }

  let contentKey: Buffer;
  try {
    contentKey = privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, encryptedKey);
  } catch {
    throw fail('the key does not unwrap its content key (wrong private key, or the wrapped key was altered)');
  }
  try {
    if (contentKey.length !== CONTENT_KEY_BYTES) throw new Error('content key has the wrong size');
    const decipher = createDecipheriv('aes-256-gcm', contentKey, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(additionalData(thumbprint));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  } catch {
    throw fail('the ciphertext does not authenticate (it was altered)');
  } finally {
    contentKey.fill(0);
  }
}

function additionalData(thumbprint: string): Buffer {
  return Buffer.from(`${ENVELOPE_ALG}\n${thumbprint}`, 'utf8');
}

/** Strict base64 (Buffer.from silently skips junk characters), or undefined. */
function base64Field(value: unknown): Buffer | undefined {
  if (typeof value !== 'string' || !/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(value)) return undefined;
  return Buffer.from(value, 'base64');
}
