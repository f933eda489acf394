/**
 * Group certificates: self-signed X.509 v3 certificates for a machine group's RSA key.
 *
 * node-forge builds the certificate structure (Node has no certificate builder); the signature is
 * computed by Node's crypto, because forge's RSA signing is pure JavaScript (about 45 ms per
 * certificate on these machines against under 1 ms natively), which matters when property tests
 * and simulations issue thousands of certificates. Parsing goes through Node's `X509Certificate`
 * (OpenSSL), so what rekey accepts is what OpenSSL accepts.
 */
import { X509Certificate, createHash, createPublicKey, randomBytes, sign, type KeyObject } from 'node:crypto';
import forge from 'node-forge';
import { CERTIFICATE_INVALID, cryptoError } from './errors.js';
import type { GroupCertificate, KeyPair } from './types.js';

/** forge exports this, but @types/node-forge does not declare it. */
const forgeTbs = forge.pki as unknown as { getTBSCertificate(cert: forge.pki.Certificate): forge.asn1.Asn1 };

export interface CreateGroupCertificateInput {
  readonly keyPair: KeyPair;
  readonly groupName: string;
  readonly version: number;
  /** ISO-8601 instant with an explicit zone (`Z` or `+hh:mm`), whole seconds. */
  readonly notBefore: string;
  /** ISO-8601 instant with an explicit zone, whole seconds, after `notBefore`. */
  readonly notAfter: string;
}

export interface ParsedCertificate {
  readonly thumbprint: string;
  /** ISO-8601 UTC, as `Date.toISOString()` writes it. */
  readonly notBefore: string;
  readonly notAfter: string;
  readonly publicKey: KeyObject;
}

/** The subject (and issuer) common name of a group's certificate. */
export function groupCommonName(groupName: string, version: number): string {
  return `rekey machine group ${groupName} v${version}`;
}

/**
 * Issues the self-signed certificate for version `version` of a group's key. The validity is
 * exactly [notBefore, notAfter]; the returned dates are the inputs in `toISOString()` form.
 */
export function createGroupCertificate(input: CreateGroupCertificateInput): GroupCertificate {
  const { keyPair, groupName, version } = input;
  if (typeof groupName !== 'string' || groupName.length === 0) throw new TypeError('groupName must be a non-empty string');
  if (!Number.isSafeInteger(version) || version < 1) throw new RangeError(`version must be a positive integer, got ${version}`);
  const notBefore = certificateInstant('notBefore', input.notBefore);
  const notAfter = certificateInstant('notAfter', input.notAfter);
  if (notAfter.getTime() <= notBefore.getTime()) {
    throw new RangeError(`notAfter ${input.notAfter} must be after notBefore ${input.notBefore}`);
  }
  assertRsaPair(keyPair);

  const cert = forge.pki.createCertificate();
  cert.version = 2; // X.509 v3 (the field counts from 0); forge's default, stated because extensions need it.
  cert.serialNumber = randomSerialHex();
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = notAfter;
  // Forge's key types only convert through PEM; this is the public half, so the copy is harmless.
  cert.publicKey = forge.pki.publicKeyFromPem(keyPair.publicKey.export({ type: 'spki', format: 'pem' }) as string);
  // UTF8String rather than forge's default PrintableString, which cannot hold '_', '@' or non-ASCII
  // group names; forge encodes the value to UTF-8 itself when told the tag.
  // (@types/node-forge types valueTagClass as a tag class; forge reads it as the tag number.)
  const name = [{ name: 'commonName', value: groupCommonName(groupName, version), valueTagClass: forge.asn1.Type.UTF8 }];
  cert.setSubject(name as unknown as forge.pki.CertificateField[]);
  cert.setIssuer(name as unknown as forge.pki.CertificateField[]);
  cert.setExtensions([
    // An end-entity key: it must never be accepted as a CA that issues other certificates.
    { name: 'basicConstraints', cA: false, critical: true },
    // Signing join proofs, and wrapping content keys/data for the envelopes.
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, dataEncipherment: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);

  // What forge's cert.sign(key, sha256) does, with the RSA operation done by OpenSSL instead.
  cert.signatureOid = cert.siginfo.algorithmOid = forge.pki.oids.sha256WithRSAEncryption!;
  const tbs = forge.asn1.toDer(forgeTbs.getTBSCertificate(cert)).getBytes();
  cert.signature = sign('sha256', Buffer.from(tbs, 'binary'), keyPair.privateKey).toString('binary');

  // PEM as OpenSSL writes it ('\n' line ends; forge writes '\r\n'), so the certificate text is the
  // same whichever way it reaches a caller (from here, or back out of a password package).
  const certificate = new X509Certificate(Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(cert)).getBytes(), 'binary'));
  return {
    pem: certificate.toString(),
    thumbprint: thumbprintOfDer(certificate.raw),
    notBefore: notBefore.toISOString(),
    notAfter: notAfter.toISOString(),
  };
}

/** Upper-case hex SHA-256 of the certificate's DER (what `X509Certificate.fingerprint256` shows, without colons). */
export function thumbprintOf(pem: string): string {
  return thumbprintOfDer(x509(pem).raw);
}

export function thumbprintOfDer(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('hex').toUpperCase();
}

/** Reads the parts of a certificate rekey uses; CERTIFICATE_INVALID if it is not an RSA certificate. */
export function parseCertificate(pem: string): ParsedCertificate {
  const certificate = x509(pem);
  const publicKey = certificate.publicKey;
  if (publicKey.asymmetricKeyType !== 'rsa') {
    throw cryptoError(CERTIFICATE_INVALID, `certificate key is ${publicKey.asymmetricKeyType ?? 'unknown'}, but rekey group keys are RSA`, {
      keyType: publicKey.asymmetricKeyType,
    });
  }
  return {
    thumbprint: thumbprintOfDer(certificate.raw),
    notBefore: openSslDate(certificate.validFrom).toISOString(),
    notAfter: openSslDate(certificate.validTo).toISOString(),
    publicKey,
  };
}

/**
 * A positive serial without leading zero bytes (a serial like '00..01' makes a
 * certificate OpenSSL rejects). 16 random bytes with the first byte in 0x40..0x7f: never zero, so
 * no leading zero byte, and the high bit clear, so DER reads it as positive with no padding byte.
 * That leaves 126 random bits, above RFC 5280's advice of at least 64 unpredictable bits.
 */
export function randomSerialHex(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x3f) | 0x40;
  return bytes.toString('hex');
}

function x509(pem: string): X509Certificate {
  if (typeof pem !== 'string' || !pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw cryptoError(CERTIFICATE_INVALID, 'certificate is not a PEM "CERTIFICATE" block', { certificate: preview(pem) });
  }
  try {
    return new X509Certificate(pem);
  } catch (error) {
    throw cryptoError(CERTIFICATE_INVALID, `certificate does not parse as X.509: ${(error as Error).message}`, {
      certificate: preview(pem),
    });
  }
}

/** An ISO-8601 string with an explicit zone and whole seconds, as a Date. */
function certificateInstant(field: string, value: string): Date {
  // Without a zone designator, Date parses in the process time zone (luxon's fromISO does the same):
  // refuse it rather than issue a certificate hours off.
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(value)) {
    throw new RangeError(`${field} must be an ISO-8601 instant with a zone (e.g. 2025-01-01T00:00:00Z), got ${String(value)}`);
  }
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) throw new RangeError(`${field} is not a valid instant: ${value}`);
  // X.509 times (UTCTime/GeneralizedTime as profiled by RFC 5280) carry whole seconds: a fraction
  // would be silently dropped, and the certificate would no longer say what the event says.
  if (date.getUTCMilliseconds() !== 0) throw new RangeError(`${field} ${value} has fractional seconds; certificates carry whole seconds`);
  const year = date.getUTCFullYear();
  if (year < 0 || year > 9999) throw new RangeError(`${field} ${value} is outside the years X.509 can express`);
  return date;
}

/** OpenSSL prints validity as e.g. 'Jan  1 00:00:00 2025 GMT'; parse that exactly rather than trust Date's lenient parser. */
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
function openSslDate(text: string): Date {
  const match = /^([A-Z][a-z]{2}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2}) (\d{1,4}) GMT$/.exec(text);
  const month = match ? MONTHS.indexOf(match[1]!) : -1;
  if (!match || month < 0) throw cryptoError(CERTIFICATE_INVALID, `certificate validity date '${text}' is not in OpenSSL's format`);
  const [, , day, hours, minutes, seconds, year] = match.map(Number) as number[];
  const date = new Date(0);
  date.setUTCFullYear(year!, month, day!);
  date.setUTCHours(hours!, minutes!, seconds!, 0);
  return date;
}

function assertRsaPair(keyPair: KeyPair): void {
  const { publicKey, privateKey } = keyPair ?? {};
  if (privateKey?.type !== 'private' || privateKey.asymmetricKeyType !== 'rsa' || publicKey?.type !== 'public') {
    throw new TypeError('keyPair must hold an RSA private key and its public key as KeyObjects');
  }
  // A certificate whose public key is not the signer's would be valid-looking and useless.
  const derived = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  if (!derived.equals(publicKey.export({ type: 'spki', format: 'der' }))) {
    throw new TypeError('keyPair.publicKey is not the public half of keyPair.privateKey');
  }
}

function preview(value: unknown): string {
  return typeof value === 'string' ? (value.length > 80 ? `${value.slice(0, 77)}...` : value) : typeof value;
}
