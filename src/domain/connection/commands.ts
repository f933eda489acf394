import type { Envelope } from '../../kernel/envelope.js';
import type { ConnectionTarget } from '../events.js';

/**
 * `liveThumbprints` is the engine's reading of the target's live keys (group primary and, during a
 * renewal, secondary; or a lone machine's own key) when the command is issued.
 */
export type ConnectionCommand = { readonly at: number } & (
  | { readonly type: 'CreateConnection'; readonly connectionId: string; readonly name: string; readonly target: ConnectionTarget; readonly ciphertexts: readonly Envelope[]; readonly liveThumbprints: readonly string[] }
  | { readonly type: 'RecordRun'; readonly machine: string; readonly keyThumbprint: string; readonly reencrypted: Envelope | null; readonly liveThumbprints: readonly string[] }
  | { readonly type: 'RecordRunFailure'; readonly code: string; readonly reason: string }
  | { readonly type: 'Reencrypt'; readonly machine: string; readonly ciphertext: Envelope; readonly proactive: boolean }
  /** Level-triggered: drop ciphertexts for keys that are no longer live; with none left, Fix connection. */
  | { readonly type: 'Reconcile'; readonly liveThumbprints: readonly string[]; readonly reason: string }
  | { readonly type: 'FixConnection'; readonly ciphertexts: readonly Envelope[]; readonly liveThumbprints: readonly string[] }
);
