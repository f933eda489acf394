/** The cryptography rekey uses, in one import. See docs/security.md for the parameters and why. */
export type { GroupCertificate, KeyPair, KeyPairSource } from './types.js';
export type { Envelope } from '../kernel/envelope.js';
export {
  CERTIFICATE_INVALID,
  DECRYPTION_FAILED,
  ENVELOPE_CONTENT_INVALID,
  PACKAGE_CORRUPT,
  PASSWORD_INCORRECT,
} from './errors.js';
export {
  RSA_MODULUS_BITS,
  generateKeyPair,
  inlineKeyPairSource,
  pooledKeyPairSource,
  type PooledKeyPairSource,
  type PooledKeyPairSourceOptions,
} from './keys.js';
export {
  createGroupCertificate,
  groupCommonName,
  parseCertificate,
  thumbprintOf,
  type CreateGroupCertificateInput,
  type ParsedCertificate,
} from './certificates.js';
export {
  MAX_PKCS12_ITERATIONS,
  MIN_PKCS12_ITERATIONS,
  PKCS12_ITERATIONS,
  createPasswordPackage,
  openPasswordPackage,
  type CreatePasswordPackageInput,
  type OpenedPasswordPackage,
} from './passwordPackage.js';
export { workerKeyPairSource, type WorkerKeyPairSource, type WorkerKeyPairSourceOptions } from './keyWorkers.js';
export { ENVELOPE_ALG, decryptWith, encryptTo } from './envelope.js';
export { recipientOf, type Recipient } from './recipients.js';
export { decryptCredential, encryptCredential, unwrapPrivateKey, wrapPrivateKey, type Credential } from './keyWrap.js';
export { signProof, verifyProof } from './proof.js';
