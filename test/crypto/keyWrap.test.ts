import { beforeAll, describe, expect, it } from 'vitest';
import {
  decryptCredential,
  decryptWith,
  encryptCredential,
  encryptTo,
  unwrapPrivateKey,
  wrapPrivateKey,
} from '../../src/crypto/index.js';
import { newGroupKey, rekeyErrorOf, type Member } from './fixtures.js';

let current: Member; // the group key every member holds
let renewed: Member; // the key a renewal issues (R11)
let stranger: Member;
beforeAll(async () => {
  [current, renewed, stranger] = await Promise.all([newGroupKey('G', 1), newGroupKey('G', 2), newGroupKey('Other', 1)]);
});

describe('wrapPrivateKey / unwrapPrivateKey', () => {
  it('a member holding the current key recovers the new key, which then opens what was encrypted to it', () => {
    const wrapped = wrapPrivateKey(renewed.keyPair.privateKey, current.certificate.pem);
    expect(wrapped.thumbprint).toBe(current.certificate.thumbprint);
    const unwrapped = unwrapPrivateKey(wrapped, current.keyPair.privateKey);
    const forNewKey = encryptTo(renewed.certificate.pem, Buffer.from('credential for v2'));
    expect(decryptWith(forNewKey, unwrapped).toString()).toBe('credential for v2');
    expect(unwrapped.export({ type: 'pkcs8', format: 'der' })).toEqual(renewed.keyPair.privateKey.export({ type: 'pkcs8', format: 'der' }));
  });

  it('does not contain the key in the clear', () => {
    const wrapped = wrapPrivateKey(renewed.keyPair.privateKey, current.certificate.pem);
    const der = renewed.keyPair.privateKey.export({ type: 'pkcs8', format: 'der' });
    expect(Buffer.from(wrapped.ciphertext, 'base64').includes(der.subarray(0, 64))).toBe(false);
  });

  it('cannot be unwrapped without the current key', () => {
    const wrapped = wrapPrivateKey(renewed.keyPair.privateKey, current.certificate.pem);
    rekeyErrorOf(() => unwrapPrivateKey(wrapped, stranger.keyPair.privateKey), 'DECRYPTION_FAILED');
    // The new key itself cannot open its own wrapping either.
    rekeyErrorOf(() => unwrapPrivateKey(wrapped, renewed.keyPair.privateKey), 'DECRYPTION_FAILED');
  });
});

describe('encryptCredential / decryptCredential', () => {
  it('round-trips a credential, Unicode included', () => {
    const credential = { username: 'CONTOSO\\rpa-bot', password: 'p@ss wörd "quoted" ✓' };
    const envelope = encryptCredential(current.certificate.pem, credential);
    expect(decryptCredential(envelope, current.keyPair.privateKey)).toEqual(credential);
    expect(Buffer.from(envelope.ciphertext, 'base64').toString('utf8')).not.toContain('rpa-bot');
  });

  it('only the group key opens it', () => {
    const envelope = encryptCredential(current.certificate.pem, { username: 'u', password: 'p' });
    rekeyErrorOf(() => decryptCredential(envelope, stranger.keyPair.privateKey), 'DECRYPTION_FAILED');
  });

  it('keeps wrapped keys and credentials apart (ENVELOPE_CONTENT_INVALID)', () => {
    const credential = encryptCredential(current.certificate.pem, { username: 'u', password: 'p' });
    const wrappedKey = wrapPrivateKey(renewed.keyPair.privateKey, current.certificate.pem);
    const asKey = rekeyErrorOf(() => unwrapPrivateKey(credential, current.keyPair.privateKey), 'ENVELOPE_CONTENT_INVALID');
    expect(asKey.kind).toBe('integrity');
    rekeyErrorOf(() => decryptCredential(wrappedKey, current.keyPair.privateKey), 'ENVELOPE_CONTENT_INVALID');
    const notACredential = encryptTo(current.certificate.pem, Buffer.from(JSON.stringify({ username: 'u' })));
    rekeyErrorOf(() => decryptCredential(notACredential, current.keyPair.privateKey), 'ENVELOPE_CONTENT_INVALID');
  });
});
