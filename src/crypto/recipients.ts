/**
 * Certificate -> (public key, thumbprint), cached by PEM text.
 *
 * Re-encrypting every connection of a group to the same certificate (R14, R18) and checking join
 * proofs would otherwise parse the same certificate over and over; parsing is the costly part of an
 * RSA-OAEP encryption to a PEM. Certificates are immutable and identified by their bytes, so a
 * cache keyed by the PEM can never return a stale answer. It is bounded: oldest entries are evicted.
 */
import type { KeyObject } from 'node:crypto';
import { parseCertificate } from './certificates.js';

export interface Recipient {
  readonly publicKey: KeyObject;
  /** Thumbprint of the certificate the public key came from. */
  readonly thumbprint: string;
}

const CACHE_LIMIT = 256;
const cache = new Map<string, Recipient>();

/** The recipient for a certificate PEM; CERTIFICATE_INVALID if it is not an RSA certificate. */
export function recipientOf(certificatePem: string): Recipient {
  const hit = cache.get(certificatePem);
  if (hit) {
    // Refresh its position so often-used certificates survive eviction (a small LRU).
    cache.delete(certificatePem);
    cache.set(certificatePem, hit);
    return hit;
  }
  const { publicKey, thumbprint } = parseCertificate(certificatePem);
  const recipient: Recipient = { publicKey, thumbprint };
  cache.set(certificatePem, recipient);
  if (cache.size > CACHE_LIMIT) cache.delete(cache.keys().next().value!);
  return recipient;
}

/** Accepts a PEM or an already-resolved recipient. */
export function resolveRecipient(recipient: string | Recipient): Recipient {
  if (typeof recipient === 'string') return recipientOf(recipient);
  if (recipient?.publicKey?.type !== 'public' || recipient.publicKey.asymmetricKeyType !== 'rsa' || typeof recipient.thumbprint !== 'string') {
    throw new TypeError('recipient must be a certificate PEM or { publicKey: RSA public KeyObject, thumbprint }');
  }
  return recipient;
}

/** For tests and memory-conscious callers. */
export function recipientCacheSize(): number {
  return cache.size;
}
