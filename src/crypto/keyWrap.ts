/**
 * What travels inside envelopes: a renewal's new private key wrapped under the current group key
 * (R11: any member can take it later without the issuer being online), and connection credentials
 * encrypted to the live group key(s) (R14, R18: the service never sees a plaintext credential).
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { decryptWith, encryptTo } from './envelope.js';
import { ENVELOPE_CONTENT_INVALID, cryptoError } from './errors.js';
import type { Recipient } from './recipients.js';
import type { Envelope } from '../kernel/envelope.js';

/** Encrypts `privateKey` (as PKCS#8 DER) to the recipient certificate, normally the current group key's. */
export function wrapPrivateKey(privateKey: KeyObject, recipient: string | Recipient): Envelope {
  if (privateKey?.type !== 'private' || privateKey.asymmetricKeyType !== 'rsa') {
    throw new TypeError('privateKey must be an RSA private KeyObject');
  }
  const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'der' });
  try {
    return encryptTo(recipient, pkcs8);
  } finally {
    pkcs8.fill(0); // the plaintext key should not outlive the call in a freed buffer
  }
}

/** Opens a wrapped key with the recipient's private key (DECRYPTION_FAILED if it is not theirs). */
export function unwrapPrivateKey(envelope: Envelope, recipientPrivateKey: KeyObject, expectedThumbprint?: string): KeyObject {
  const pkcs8 = decryptWith(envelope, recipientPrivateKey, expectedThumbprint);
  try {
    const key = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
    if (key.asymmetricKeyType !== 'rsa') throw new Error(`key type ${key.asymmetricKeyType}`);
    return key;
  } catch (error) {
    throw cryptoError(ENVELOPE_CONTENT_INVALID, `envelope for key ${envelope.thumbprint} does not hold an RSA private key (${(error as Error).message})`, {
      thumbprint: envelope.thumbprint,
    });
  } finally {
    pkcs8.fill(0);
  }
}

export interface Credential {
  readonly username: string;
  readonly password: string;
}

/** Encrypts a connection's credential (as JSON) to a group certificate. */
export function encryptCredential(recipient: string | Recipient, credential: Credential): Envelope {
  if (typeof credential?.username !== 'string' || typeof credential.password !== 'string') {
    throw new TypeError('credential must have string username and password');
  }
  // Only the two fields, in a fixed order: nothing else the caller's object carries leaks in.
  const json = Buffer.from(JSON.stringify({ username: credential.username, password: credential.password }), 'utf8');
  try {
    return encryptTo(recipient, json);
  } finally {
    json.fill(0);
  }
}

export function decryptCredential(envelope: Envelope, privateKey: KeyObject, expectedThumbprint?: string): Credential {
  const json = decryptWith(envelope, privateKey, expectedThumbprint);
  let value: unknown;
  try {
    value = JSON.parse(json.toString('utf8'));
  } catch {
    value = undefined;
  } finally {
    json.fill(0);
  }
  const candidate = value as Partial<Credential> | undefined;
  if (typeof candidate?.username !== 'string' || typeof candidate.password !== 'string') {
    throw cryptoError(ENVELOPE_CONTENT_INVALID, `envelope for key ${envelope.thumbprint} does not hold a credential`, {
      thumbprint: envelope.thumbprint,
    });
  }
  return { username: candidate.username, password: candidate.password };
}
