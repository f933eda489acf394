/**
 * The shape of a credential encrypted to a group key, as the event log stores it. It lives in the
 * kernel because the domain records envelopes (it never opens them) and the crypto makes and opens
 * them: both speak of the same shape without either depending on the other.
 */
/** Hybrid ciphertext: RSA-OAEP-SHA256 wraps a fresh AES-256-GCM key; all binary fields base64. */
export interface Envelope {
  readonly alg: 'RSA-OAEP-256+A256GCM';
  /** Thumbprint of the certificate whose public key wrapped the content key. */
  readonly thumbprint: string;
  readonly encryptedKey: string;
  readonly iv: string;
  readonly tag: string;
  readonly ciphertext: string;
}
