/** A desktop flow connection: its target and the ciphertexts of its credentials, one per live key. */
import type { Envelope } from '../../kernel/envelope.js';
import type { ConnectionTarget } from '../events.js';
import type { Instant } from '../time.js';

export interface ConnectionState {
  readonly exists: boolean;
  readonly connectionId: string;
  readonly name: string;
  readonly target: ConnectionTarget;
  readonly ciphertexts: readonly Envelope[];
  readonly needsFix: boolean;
  readonly lastUsedAt: Instant | null;
  readonly reencryptedAt: Instant | null;
}

export const initialConnectionState: ConnectionState = {
  exists: false,
  connectionId: '',
  name: '',
  target: { type: 'group', name: '' },
  ciphertexts: [],
  needsFix: false,
  lastUsedAt: null,
  reencryptedAt: null,
};

export function ciphertextFor(state: ConnectionState, thumbprint: string): Envelope | undefined {
  return state.ciphertexts.find((ciphertext) => ciphertext.thumbprint === thumbprint);
}
