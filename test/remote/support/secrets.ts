/** The secrets an agent's key store holds, as needles for test/engine/secrets.ts secretsFound. */
import type { KeyObject } from 'node:crypto';
import { Keystore } from '../../../src/remote/keystore.js';

export interface KeystoreSecrets {
  /** The group keys (RSA): secretsFound searches every encoding of their private parts. */
  readonly groupKeys: Map<string, KeyObject>;
  /** Encodings of the Ed25519 request-signing keys' private halves (secretsFound's key needles are RSA-only). */
  readonly signingKeyStrings: Set<string>;
}

export function emptySecrets(): KeystoreSecrets {
  return { groupKeys: new Map(), signingKeyStrings: new Set() };
}

/** Adds what the key store holds right now. */
export function collectKeystoreSecrets(into: KeystoreSecrets, file: string, passphrase: string): void {
  const store = Keystore.open(file, passphrase);
  for (const key of store.contents.groupKeys) into.groupKeys.set(key.thumbprint, key.privateKey);
  const jwk = store.contents.signingKey.export({ format: 'jwk' });
  const d = Buffer.from(jwk.d!, 'base64url');
  const pkcs8 = store.contents.signingKey.export({ type: 'pkcs8', format: 'der' });
  for (const text of [d.toString('base64url').slice(0, 40), d.toString('base64').slice(0, 40), d.toString('hex').slice(0, 40), pkcs8.toString('base64').slice(0, 60)]) {
    into.signingKeyStrings.add(text);
  }
}
