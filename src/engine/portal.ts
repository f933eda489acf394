/**
 * What the Power Automate portal does on the user's side: it encrypts a connection's credentials to
 * the target's live certificates before anything reaches the service (R14, R18), so the engine and
 * its log only ever see ciphertexts.
 */
import { encryptCredential } from '../crypto/index.js';
import type { ConnectionTarget } from '../domain/events.js';
import type { CommandOptions, Engine } from './engine.js';

export interface Credential {
  readonly username: string;
  readonly password: string;
}

function encryptForTarget(engine: Engine, target: ConnectionTarget, credential: Credential) {
  return engine.liveCertificates(target).map((certificate) => encryptCredential(certificate.pem, credential));
}

export async function createConnection(engine: Engine, name: string, target: ConnectionTarget, credential: Credential, options?: CommandOptions) {
  await engine.processDue(); // encrypt to the keys that are live now, not to those of a stale view
  return engine.createConnection({ name, target, ciphertexts: encryptForTarget(engine, target, credential) }, options);
}

/** R18: the user re-enters the credentials; they are encrypted to the live key(s). */
export async function fixConnection(engine: Engine, name: string, credential: Credential, options?: CommandOptions) {
  await engine.processDue();
  const target = engine.connection(name).target;
  return engine.fixConnection(name, encryptForTarget(engine, target, credential), options);
}
