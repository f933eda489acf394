/**
 * The group password package (R7, R17): the group's private key and certificate in a PKCS#12 file
 * protected by the group password, which the service stores but cannot open.
 *
 * Layout (what OpenSSL 3 and Windows write, and what forge's `pkcs12.toPkcs12Asn1` writes with
 * `algorithm: 'aes256'`):
 *   PFX v3
 *     authSafe: data = AuthenticatedSafe
 *       data: SafeContents [ certBag(x509 DER) + localKeyId ]
 *       data: SafeContents [ pkcs8ShroudedKeyBag(EncryptedPrivateKeyInfo) + localKeyId ]
 *     macData: HMAC-SHA256 over the AuthenticatedSafe, key from the PKCS#12 KDF (SHA-256)
 *   EncryptedPrivateKeyInfo: PBES2 = PBKDF2-HMAC-SHA256 + AES-256-CBC
 *
 * Why the structure is built here with forge's ASN.1 codec instead of `toPkcs12Asn1`: forge runs
 * PBKDF2 and the MAC derivation in pure JavaScript, which at 10,000 iterations costs about 120 ms
 * to create and 130 ms to open a package. Here PBKDF2, AES and HMAC run in Node's crypto and the
 * MAC derivation uses Node's hash, so a package costs about a fifth of that; the format is the
 * same, and the tests check that forge's own reader opens these packages and that this reader
 * opens forge's. Measurements and the choice of iteration count: docs/security.md.
 *
 * The MAC is required and checked before anything inside is read: it is what detects a wrong
 * password and any flipped byte.
 */
import {
  X509Certificate,
  createCipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  pbkdf2Sync,
  randomBytes,
  timingSafeEqual,
  type KeyObject,
} from 'node:crypto';
import { RekeyError } from '../kernel/errors.js';
import { parseCertificate, thumbprintOfDer } from './certificates.js';
import {
  MalformedDer,
  explicit0,
  fromDer,
  integer,
  need,
  nul,
  octets,
  oid,
  readExplicit0,
  readInteger,
  readOctets,
  readOid,
  readNull,
  readSeq,
  readSeqExactly,
  seq,
  set,
  toDer,
  type Asn1,
} from './der.js';
import { PACKAGE_CORRUPT, PASSWORD_INCORRECT, cryptoError } from './errors.js';
import { macHashSize, pkcs12MacKey, type MacHash } from './pkcs12Kdf.js';

/**
 * Iterations of PBKDF2 (key encryption) and of the PKCS#12 MAC key derivation. A wrong-password
 * guess costs an attacker one MAC derivation, so this count is the brute-force price per guess.
 * Chosen from measurements on the 2-core CI machines: docs/security.md "PKCS#12 parameters".
 */
export const PKCS12_ITERATIONS = 10_000;
/** Lowest count `createPasswordPackage` accepts (forge's and OpenSSL's default is 2,048). */
export const MIN_PKCS12_ITERATIONS = 2_048;
/**
 * Highest count `openPasswordPackage` will run. The package comes from the service's store: an
 * iteration count of 2^31 in a damaged or hostile package must not stall a machine for minutes.
 * Twenty times the default leaves room to raise the default without orphaning old packages.
 */
export const MAX_PKCS12_ITERATIONS = 200_000;

const OID = {
  data: '1.2.840.113549.1.7.1',
  certBag: '1.2.840.113549.1.12.10.1.3',
  pkcs8ShroudedKeyBag: '1.2.840.113549.1.12.10.1.2',
  x509Certificate: '1.2.840.113549.1.9.22.1',
  localKeyId: '1.2.840.113549.1.9.21',
  pbes2: '1.2.840.113549.1.5.13',
  pbkdf2: '1.2.840.113549.1.5.12',
  hmacWithSha256: '1.2.840.113549.2.9',
  aes256Cbc: '2.16.840.1.101.3.4.1.42',
  sha1: '1.3.14.3.2.26',
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
} as const;

const MAC_HASH_BY_OID: Record<string, MacHash> = {
  [OID.sha1]: 'sha1',
  [OID.sha256]: 'sha256',
  [OID.sha384]: 'sha384',
  [OID.sha512]: 'sha512',
};

const SALT_BYTES = 16;

export interface CreatePasswordPackageInput {
  readonly privateKey: KeyObject;
  readonly certificatePem: string;
  readonly password: string;
  /** Defaults to PKCS12_ITERATIONS; at least MIN_PKCS12_ITERATIONS, at most MAX_PKCS12_ITERATIONS. */
  readonly iterations?: number;
}

export interface OpenedPasswordPackage {
  readonly privateKey: KeyObject;
  /** The certificate as OpenSSL writes PEM (the same text `createGroupCertificate` returns). */
  readonly certificatePem: string;
  readonly thumbprint: string;
}

/** Packs the key and its certificate under the password; returns the PKCS#12 DER as base64. */
export function createPasswordPackage(input: CreatePasswordPackageInput): string {
  const { privateKey, certificatePem } = input;
  const iterations = input.iterations ?? PKCS12_ITERATIONS;
  if (!Number.isSafeInteger(iterations) || iterations < MIN_PKCS12_ITERATIONS || iterations > MAX_PKCS12_ITERATIONS) {
    throw new RangeError(`iterations must be an integer from ${MIN_PKCS12_ITERATIONS} to ${MAX_PKCS12_ITERATIONS}, got ${iterations}`);
  }
  if (privateKey?.type !== 'private' || privateKey.asymmetricKeyType !== 'rsa') {
    throw new TypeError('privateKey must be an RSA private KeyObject');
  }
  const password = normalizePassword(input.password);
  const certificate = parseCertificate(certificatePem); // CERTIFICATE_INVALID on garbage
  if (!spkiOf(createPublicKey(privateKey)).equals(spkiOf(certificate.publicKey))) {
    // A package whose key cannot use its certificate would pass every check and fail at the first run.
    throw new TypeError(`privateKey does not belong to certificate ${certificate.thumbprint}`);
  }
  const certDer = new X509Certificate(certificatePem).raw;

  // localKeyId pairs the key with its certificate; SHA-1 of the certificate is the usual value.
  const bagAttributes = set(seq(oid(OID.localKeyId), set(octets(createHash('sha1').update(certDer).digest()))));
  const certBag = seq(oid(OID.certBag), explicit0(seq(oid(OID.x509Certificate), explicit0(octets(certDer)))), bagAttributes);
  const keyBag = seq(oid(OID.pkcs8ShroudedKeyBag), explicit0(encryptPrivateKeyInfo(privateKey, password, iterations)), bagAttributes);
  const authenticatedSafe = toDer(seq(dataContentInfo(seq(certBag)), dataContentInfo(seq(keyBag))));

  const macSalt = randomBytes(SALT_BYTES);
  const macKey = pkcs12MacKey('sha256', password, macSalt, iterations);
  const mac = createHmac('sha256', macKey).update(authenticatedSafe).digest();
  macKey.fill(0);
  const pfx = seq(
    integer(3),
    seq(oid(OID.data), explicit0(octets(authenticatedSafe))),
    seq(seq(seq(oid(OID.sha256), nul()), octets(mac)), octets(macSalt), integer(iterations)),
  );
  return toDer(pfx).toString('base64');
}

/**
 * Opens a package with the group password. PASSWORD_INCORRECT if the password does not verify the
 * MAC or decrypt the key (R17's "password is incorrect"); PACKAGE_CORRUPT if the bytes are not a
 * PKCS#12 package rekey can read.
 */
export function openPasswordPackage(pkcs12Base64: string, password: string): OpenedPasswordPackage {
  // An empty password is a user typing nothing: it is simply not the group password.
  if (password === '') throw passwordIncorrect('password is empty');
  const normalized = normalizePassword(password);
  try {
    const pfx = readPfx(decodeBase64(pkcs12Base64));
    // Verify the MAC before reading anything inside: until then every byte is untrusted.
    const expected = createHmac(pfx.macHash, pkcs12MacKey(pfx.macHash, normalized, pfx.macSalt, pfx.macIterations))
      .update(pfx.authenticatedSafe)
      .digest();
    if (expected.length !== pfx.mac.length || !timingSafeEqual(expected, pfx.mac)) throw passwordIncorrect('MAC does not verify');
    const contents = readAuthenticatedSafe(pfx.authenticatedSafe);
    const privateKey = decryptPrivateKeyInfo(contents.encryptedKey, normalized);
    const spki = spkiOf(createPublicKey(privateKey));
    const certDer = contents.certificates.find((der) => spkiOf(new X509Certificate(der).publicKey).equals(spki));
    need(certDer, 'package holds no certificate for its private key');
    const certificate = new X509Certificate(certDer);
    return { privateKey, certificatePem: certificate.toString(), thumbprint: thumbprintOfDer(certificate.raw) };
  } catch (error) {
    if (error instanceof RekeyError) throw error;
    const reason = error instanceof MalformedDer ? error.message : `unreadable (${(error as Error)?.message ?? String(error)})`;
    throw cryptoError(PACKAGE_CORRUPT, `password package is not a PKCS#12 package rekey can open: ${reason}`, { reason });
  }
}

/**
 * Unicode passwords: NFC, so the same password typed on machines whose input methods compose
 * differently still opens the package. PBKDF2 then takes its UTF-8 bytes and the MAC its BMPString,
 * which is what OpenSSL does with a UTF-8 locale.
 */
function normalizePassword(password: string): string {
  if (typeof password !== 'string') throw new TypeError('password must be a string');
  if (password.length === 0) throw new RangeError('password must not be empty');
  return password.normalize('NFC');
}

function encryptPrivateKeyInfo(privateKey: KeyObject, password: string, iterations: number): Asn1 {
  const salt = randomBytes(SALT_BYTES);
  const iv = randomBytes(16);
  const key = pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, 32, 'sha256');
  const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'der' });
  const cipher = createCipheriv('aes-256-cbc', key, iv);
  const encrypted = Buffer.concat([cipher.update(pkcs8), cipher.final()]);
  // Do not leave the plaintext key or the derived key lying in freed memory longer than needed.
  pkcs8.fill(0);
  key.fill(0);
  return seq(
    seq(
      oid(OID.pbes2),
      seq(
        seq(oid(OID.pbkdf2), seq(octets(salt), integer(iterations), seq(oid(OID.hmacWithSha256), nul()))),
        seq(oid(OID.aes256Cbc), octets(iv)),
      ),
    ),
    octets(encrypted),
  );
}

function decryptPrivateKeyInfo(encryptedKeyInfo: Asn1, password: string): KeyObject {
  // PBES2 only (what rekey and forge's 'aes256' write); check its count before OpenSSL runs it.
  const [algorithm] = readSeq(encryptedKeyInfo, 'EncryptedPrivateKeyInfo', 2);
  const [scheme, parameters] = readSeq(algorithm, 'key encryption algorithm', 2);
  need(readOid(scheme, 'key encryption scheme') === OID.pbes2, 'private key is not encrypted with PBES2');
  const [kdf] = readSeq(parameters, 'PBES2 parameters', 2);
  const [kdfOid, kdfParameters] = readSeq(kdf, 'PBES2 key derivation', 2);
  need(readOid(kdfOid, 'PBES2 key derivation') === OID.pbkdf2, 'PBES2 key derivation is not PBKDF2');
  checkIterations(readInteger(readSeq(kdfParameters, 'PBKDF2 parameters', 2)[1], 'PBKDF2 iteration count'), 'PBKDF2');
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({
      key: toDer(encryptedKeyInfo),
      format: 'der',
      type: 'pkcs8',
      passphrase: Buffer.from(password, 'utf8'),
    });
  } catch {
    // The MAC verified under this password, yet the key does not decrypt: a package whose key was
    // encrypted under another password. To the user, that password is not the right one.
    throw passwordIncorrect('private key does not decrypt');
  }
  need(privateKey.asymmetricKeyType === 'rsa', `package key is ${privateKey.asymmetricKeyType}, not RSA`);
  return privateKey;
}

interface Pfx {
  authenticatedSafe: Buffer;
  mac: Buffer;
  macHash: MacHash;
  macSalt: Buffer;
  macIterations: number;
}

function readPfx(der: Buffer): Pfx {
  // Everything outside the authenticated safe escapes the MAC, so it is read strictly: exact item
  // counts and exact parameters, so that no byte there can change without the package failing.
  const [version, authSafe, macData] = readSeqExactly(fromDer(der, 'package'), 'PFX', 3, true);
  need(readInteger(version, 'PFX version') === 3, 'PFX version is not 3');
  const authenticatedSafe = readDataContentInfo(authSafe, 'PFX authSafe');
  // No MAC means no integrity and no password check: rekey never writes such a package.
  need(macData, 'package has no MAC (integrity check)');
  const [digestInfo, macSalt, iterations] = readSeqExactly(macData, 'MacData', 3, true);
  const [digestAlgorithm, mac] = readSeqExactly(digestInfo, 'MAC DigestInfo', 2);
  const [macHashNode, macHashParameters] = readSeqExactly(digestAlgorithm, 'MAC algorithm', 2, true);
  // Hash parameters are NULL or absent (RFC 5754); anything else is not a package anyone wrote.
  if (macHashParameters !== undefined) readNull(macHashParameters, 'MAC algorithm parameters');
  const macHashOid = readOid(macHashNode, 'MAC algorithm');
  const macHash = MAC_HASH_BY_OID[macHashOid];
  need(macHash, `MAC hash ${macHashOid} is not supported`);
  const macBytes = readOctets(mac, 'MAC');
  need(macBytes.length === macHashSize(macHash), 'MAC has the wrong length');
  // RFC 7292: iterations DEFAULT 1.
  const macIterations = iterations === undefined ? 1 : readInteger(iterations, 'MAC iteration count');
  checkIterations(macIterations, 'MAC');
  return { authenticatedSafe, mac: macBytes, macHash, macSalt: readOctets(macSalt, 'MAC salt'), macIterations };
}

function readAuthenticatedSafe(der: Buffer): { certificates: Buffer[]; encryptedKey: Asn1 } {
  const certificates: Buffer[] = [];
  const keys: Asn1[] = [];
  for (const contentInfo of readSeq(fromDer(der, 'AuthenticatedSafe'), 'AuthenticatedSafe')) {
    // rekey writes plain data SafeContents (the MAC protects them; the key inside is encrypted).
    const safeContents = fromDer(readDataContentInfo(contentInfo, 'SafeContents ContentInfo'), 'SafeContents');
    for (const bag of readSeq(safeContents, 'SafeContents')) {
      const [bagId, bagValue] = readSeq(bag, 'SafeBag', 2);
      const id = readOid(bagId, 'SafeBag type');
      if (id === OID.certBag) {
        const [certId, certValue] = readSeq(readExplicit0(bagValue, 'CertBag'), 'CertBag', 2);
        if (readOid(certId, 'CertBag type') === OID.x509Certificate) {
          certificates.push(readOctets(readExplicit0(certValue, 'certificate'), 'certificate'));
        }
      } else if (id === OID.pkcs8ShroudedKeyBag) {
        keys.push(readExplicit0(bagValue, 'shrouded key bag'));
      }
      // Other bag types (CRLs, secrets, unencrypted keys) are not rekey's and are ignored.
    }
  }
  need(keys.length === 1, `package holds ${keys.length} encrypted private keys, expected 1`);
  return { certificates, encryptedKey: keys[0]! };
}

function readDataContentInfo(node: Asn1 | undefined, what: string): Buffer {
  const [contentType, content] = readSeqExactly(node, what, 2);
  need(readOid(contentType, `${what} type`) === OID.data, `${what} is not plain data (encrypted SafeContents are not supported)`);
  return readOctets(readExplicit0(content, `${what} content`), `${what} content`);
}

function dataContentInfo(safeContents: Asn1): Asn1 {
  return seq(oid(OID.data), explicit0(octets(toDer(safeContents))));
}

function checkIterations(count: number, what: string): void {
  need(count >= 1 && count <= MAX_PKCS12_ITERATIONS, `${what} iteration count ${count} is outside 1..${MAX_PKCS12_ITERATIONS}`);
}

function decodeBase64(text: string): Buffer {
  need(typeof text === 'string', 'package is not a base64 string');
  const compact = text.replace(/\s+/g, '');
  // Buffer.from(..., 'base64') skips characters it does not know; insist on real base64 instead.
  need(compact.length > 0 && /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(compact), 'package is not base64');
  return Buffer.from(compact, 'base64');
}

function spkiOf(publicKey: KeyObject): Buffer {
  return publicKey.export({ type: 'spki', format: 'der' });
}

function passwordIncorrect(reason: string): RekeyError {
  return cryptoError(PASSWORD_INCORRECT, 'password is incorrect', { reason });
}
