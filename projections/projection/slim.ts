/**
 * Dropping, before folding, the payloads no column shows (certificate PEMs, wrapped keys, password
 * packages, ciphertext bytes): the projection's state stays small and holds no key material at all.
 */
import type { Envelope } from '../../src/kernel/envelope.js';
import type { DomainEvent, Timed } from '../../src/domain/events.js';

const SLIM_ENVELOPE = (envelope: Envelope): Envelope => ({
  alg: envelope.alg, thumbprint: envelope.thumbprint, encryptedKey: '', iv: '', tag: '', ciphertext: '',
});

/** Drops payloads no column shows; the fold sees the same facts otherwise. */
export function slim(event: Timed<DomainEvent>): Timed<DomainEvent> {
  switch (event.type) {
    case 'KeyIssued':
      return { ...event, data: { ...event.data, certificatePem: '', wrappedUnderPrevious: null } };
    case 'GroupPasswordSet':
    case 'GroupPasswordRegenerated':
      return { ...event, data: { ...event.data, passwordPackage: '' } };
    case 'ConnectionCreated':
      return { ...event, data: { ...event.data, ciphertexts: event.data.ciphertexts.map(SLIM_ENVELOPE) } };
    case 'ConnectionFixed':
      return { ...event, data: { ...event.data, ciphertexts: event.data.ciphertexts.map(SLIM_ENVELOPE) } };
    case 'ConnectionReencrypted':
      return { ...event, data: { ...event.data, ciphertext: SLIM_ENVELOPE(event.data.ciphertext) } };
    case 'MachineRegistered':
      return { ...event, data: { ...event.data, certificatePem: '' } };
    case 'GroupImported':
      return { ...event, data: { ...event.data, passwordPackage: undefined, keys: event.data.keys.map(({ certificatePem: _pem, wrappedUnderPrevious: _wrapped, ...key }) => key) } };
    case 'ConnectionImported':
      return event.data.ciphertexts ? { ...event, data: { ...event.data, ciphertexts: event.data.ciphertexts.map(SLIM_ENVELOPE) } } : event;
    default:
      return event;
  }
}
