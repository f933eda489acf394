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
    default: {
      const unknown: never = event;
      return unknown;
    }
  }
}
