/** The rules of one desktop flow connection (R13, R14, R15, R18, R19, R20). */
import { RekeyError, errorKind } from '../../kernel/errors.js';
import type { ConnectionEvent, Timed } from '../events.js';
import type { ConnectionCommand } from './commands.js';
import { ciphertextFor, type ConnectionState } from './state.js';

export const CONNECTION_NOT_FOUND = errorKind('CONNECTION_NOT_FOUND', 'not_found');
export const CONNECTION_EXISTS = errorKind('CONNECTION_EXISTS', 'conflict');
export const CONNECTION_NEEDS_FIX = errorKind('CONNECTION_NEEDS_FIX', 'refused');
export const CONNECTION_KEYS_MISMATCH = errorKind('CONNECTION_KEYS_MISMATCH', 'validation');
export const KEY_NOT_LIVE = errorKind('KEY_NOT_LIVE', 'refused');
export const TARGET_HAS_NO_LIVE_KEY = errorKind('TARGET_HAS_NO_LIVE_KEY', 'refused');

export function decideConnection(command: ConnectionCommand, state: ConnectionState): Timed<ConnectionEvent>[] {
  const at = command.at;
  const fact = (event: ConnectionEvent): Timed<ConnectionEvent> => ({ ...event, at }) as Timed<ConnectionEvent>;

  if (command.type === 'CreateConnection') {
    if (state.exists) {
      throw new RekeyError(CONNECTION_EXISTS, `desktop flow connection ${command.name} already exists`, { connection: command.name });
    }
    requireAllLiveKeys(command.ciphertexts, command.liveThumbprints, `${command.target.type} ${command.target.name}`);
    return [fact({ type: 'ConnectionCreated', data: { connectionId: command.connectionId, name: command.name, target: command.target, ciphertexts: [...command.ciphertexts] } })];
  }
  if (!state.exists) {
    throw new RekeyError(CONNECTION_NOT_FOUND, 'desktop flow connection not found', {});
  }

  switch (command.type) {
    case 'RecordRun': {
      if (state.needsFix) {
        throw new RekeyError(CONNECTION_NEEDS_FIX, `desktop flow connection ${state.name} needs fixing (Fix connection): re-enter its credentials`, { connection: state.name });
      }
      if (!command.liveThumbprints.includes(command.keyThumbprint)) {
        throw new RekeyError(KEY_NOT_LIVE, `key ${command.keyThumbprint} is retired; no run may decrypt with it`, { key: command.keyThumbprint });
      }
      if (!ciphertextFor(state, command.keyThumbprint)) {
        throw new RekeyError(CONNECTION_KEYS_MISMATCH, `desktop flow connection ${state.name} has no ciphertext for key ${command.keyThumbprint}`, { connection: state.name });
      }
      const events = [fact({ type: 'ConnectionRun', data: { machine: command.machine, keyThumbprint: command.keyThumbprint } })];
      // R14: a run on a machine holding both keys adds the ciphertext for the new key.
      if (command.reencrypted && !ciphertextFor(state, command.reencrypted.thumbprint)) {
        events.push(fact({ type: 'ConnectionReencrypted', data: { machine: command.machine, ciphertext: command.reencrypted, proactive: false } }));
      }
      return events;
    }
    case 'RecordRunFailure':
      return [fact({ type: 'ConnectionRunFailed', data: { code: command.code, reason: command.reason } })];
    case 'Reencrypt':
      if (state.needsFix || ciphertextFor(state, command.ciphertext.thumbprint)) return [];
      return [fact({ type: 'ConnectionReencrypted', data: { machine: command.machine, ciphertext: command.ciphertext, proactive: command.proactive } })];
    case 'Reconcile': {
      const events: Timed<ConnectionEvent>[] = [];
      for (const ciphertext of state.ciphertexts) {
        if (!command.liveThumbprints.includes(ciphertext.thumbprint)) {
          events.push(fact({ type: 'ConnectionCiphertextDropped', data: { keyThumbprint: ciphertext.thumbprint } }));
        }
      }
      const remaining = state.ciphertexts.length - events.length;
      if (remaining === 0 && !state.needsFix) {
        events.push(fact({ type: 'ConnectionNeedsFix', data: { reason: command.reason } }));
      }
      return events;
    }
    case 'FixConnection':
      requireAllLiveKeys(command.ciphertexts, command.liveThumbprints, `${state.target.type} ${state.target.name}`);
      return [fact({ type: 'ConnectionFixed', data: { ciphertexts: [...command.ciphertexts] } })];
    default: {
      const unknown: never = command;
      return unknown;
    }
  }
}

/** R14, R18: credentials are encrypted to every live key of the target, no more and no fewer. */
function requireAllLiveKeys(ciphertexts: readonly { thumbprint: string }[], live: readonly string[], target: string): void {
  if (live.length === 0) {
    throw new RekeyError(TARGET_HAS_NO_LIVE_KEY, `${target} has no live key to encrypt credentials to (no machine joined it yet, or its key expired)`, { target });
  }
  const given = ciphertexts.map((c) => c.thumbprint).sort();
  const expected = [...live].sort();
  if (given.length !== expected.length || given.some((thumbprint, i) => thumbprint !== expected[i])) {
    throw new RekeyError(
      CONNECTION_KEYS_MISMATCH,
      `credentials are encrypted to [${given.join(', ')}] but ${target} has live keys [${expected.join(', ')}]`,
      { given, expected },
    );
  }
}
