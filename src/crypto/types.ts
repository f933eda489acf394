/**
 * What the rest of rekey sees of the cryptography. Private keys live only in a machine's key store
 * (as Node `KeyObject`s in memory); the service side only ever sees certificates, thumbprints and
 * blobs that it cannot open.
 */
import type { KeyObject } from 'node:crypto';

/** A real RSA-2048 key pair. */
export interface KeyPair {
  readonly publicKey: KeyObject;
  readonly privateKey: KeyObject;
}

/** Where new key pairs come from: generated inline, or drawn from a pre-generated pool. */
export interface KeyPairSource {
  next(): Promise<KeyPair>;
}

/** A group certificate as the service stores it. */
export interface GroupCertificate {
  /** PEM of the self-signed X.509 certificate. */
  readonly pem: string;
  /** Upper-case hex SHA-256 of the certificate's DER: the key's identity everywhere in rekey. */
  readonly thumbprint: string;
  readonly notBefore: string; // ISO-8601 UTC
  readonly notAfter: string; // ISO-8601 UTC
}

