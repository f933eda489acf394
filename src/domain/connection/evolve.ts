import type { ConnectionEvent, Timed } from '../events.js';
import type { ConnectionState } from './state.js';

export function evolveConnection(state: ConnectionState, event: Timed<ConnectionEvent>): ConnectionState {
  switch (event.type) {
    case 'ConnectionCreated':
      return {
        ...state,
        exists: true,
        connectionId: event.data.connectionId,
        name: event.data.name,
        target: event.data.target,
        ciphertexts: event.data.ciphertexts,
      };
    case 'ConnectionRun':
      return { ...state, lastUsedAt: event.at };
    case 'ConnectionRunFailed':
      return state;
    case 'ConnectionReencrypted':
      return { ...state, ciphertexts: [...state.ciphertexts, event.data.ciphertext], reencryptedAt: event.at };
    case 'ConnectionCiphertextDropped':
      return { ...state, ciphertexts: state.ciphertexts.filter((c) => c.thumbprint !== event.data.keyThumbprint) };
    case 'ConnectionNeedsFix':
      return { ...state, needsFix: true };
    case 'ConnectionFixed':
      return { ...state, needsFix: false, ciphertexts: event.data.ciphertexts };
    case 'ConnectionImported': {
      // Known by the thumbprints its credentials are encrypted to only (no ciphertext bytes).
      const data = event.data;
      const ciphertexts = data.ciphertexts ?? data.keyThumbprints.map((thumbprint) => ({
        alg: 'RSA-OAEP-256+A256GCM' as const, thumbprint, encryptedKey: '', iv: '', tag: '', ciphertext: '',
      }));
      return {
        ...state,
        exists: true,
        connectionId: data.connectionId,
        name: data.name,
        target: data.target,
        ciphertexts,
        needsFix: data.needsFix,
        lastUsedAt: data.lastUsedAt === null ? null : Date.parse(data.lastUsedAt),
        reencryptedAt: data.reencryptedAt === null ? null : Date.parse(data.reencryptedAt),
      };
    }
    default: {
      const unknown: never = event;
      return unknown;
    }
  }
}
