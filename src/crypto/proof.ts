/**
 * Proof of possession: a machine shows it holds the group's private key by signing a message (the
 * join request), and anyone holding the certificate checks it.
 *
 * RSA-PSS with SHA-256, salt as long as the digest (RFC 8017's recommendation). Every signature
 * covers a fixed domain-separation prefix before the message, so a proof can never be replayed as
 * any other signature made with a group key, nor another signature passed off as a proof. The
 * message itself should name what is proven and carry something fresh (group, machine, nonce or
 * instant); that is the caller's job.
 */
import { constants, sign, verify, type KeyObject } from 'node:crypto';
import { resolveRecipient, type Recipient } from './recipients.js';

const PROOF_CONTEXT = 'rekey proof of possession v1\n';
const PSS = { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST };

/** Base64 RSA-PSS-SHA256 signature over the message. */
export function signProof(privateKey: KeyObject, message: string): string {
  if (privateKey?.type !== 'private' || privateKey.asymmetricKeyType !== 'rsa') {
    throw new TypeError('privateKey must be an RSA private KeyObject');
  }
  if (typeof message !== 'string') throw new TypeError('message must be a string');
  return sign('sha256', proofBytes(message), { key: privateKey, ...PSS }).toString('base64');
}

/**
 * True only if `signature` is a proof over exactly `message` by the certificate's key. A malformed
 * signature is simply not a proof (false); a certificate that does not parse is CERTIFICATE_INVALID.
 */
export function verifyProof(certificate: string | Recipient, message: string, signature: string): boolean {
  const { publicKey } = resolveRecipient(certificate);
  if (typeof message !== 'string' || typeof signature !== 'string') return false;
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(signature) || signature.length === 0) return false;
  try {
    return verify('sha256', proofBytes(message), { key: publicKey, ...PSS }, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}

function proofBytes(message: string): Buffer {
  return Buffer.from(PROOF_CONTEXT + message, 'utf8');
}
