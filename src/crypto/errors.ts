/**
 * The crypto module's error codes. Each code's kind is registered here, beside its definition, so
 * `new RekeyError(code, ...)` anywhere maps to the right exit code and HTTP status.
 *
 * Convention in src/crypto: failures caused by data (a certificate, package or envelope that came
 * from the store, the network or a user) are `RekeyError`s with one of these codes; misuse by the
 * calling code (an invalid date string, a public key where a private key belongs) throws a plain
 * `TypeError`/`RangeError`, because no user input can fix it.
 */
import { RekeyError, errorKind } from '../kernel/errors.js';

/** A certificate PEM that does not parse, or is not an RSA certificate. */
export const CERTIFICATE_INVALID = errorKind('CERTIFICATE_INVALID', 'validation');
/** The group password does not open the package (MAC or key decryption failed). */
export const PASSWORD_INCORRECT = errorKind('PASSWORD_INCORRECT', 'refused');
/** The bytes are not a PKCS#12 package rekey can open (no MAC, broken structure, absurd parameters). */
export const PACKAGE_CORRUPT = errorKind('PACKAGE_CORRUPT', 'validation');
/** An envelope that this key cannot open: wrong key, other recipient, or tampered bytes. */
export const DECRYPTION_FAILED = errorKind('DECRYPTION_FAILED', 'refused');
/**
 * An envelope that decrypted and authenticated, but whose content is not what the caller expected
 * (not a PKCS#8 key, not a credential). The sender wrote it that way, so this is an integrity fault.
 */
export const ENVELOPE_CONTENT_INVALID = errorKind('ENVELOPE_CONTENT_INVALID', 'integrity');

export function cryptoError(code: string, message: string, details: Record<string, unknown> = {}): RekeyError {
  return new RekeyError(code, message, details);
}
