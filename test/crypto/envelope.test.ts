import { constants, privateDecrypt } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { decryptWith, encryptTo, recipientOf, type Envelope } from '../../src/crypto/index.js';
import { flipBit, newGroupKey, rekeyErrorOf, type Member } from './fixtures.js';

let group: Member;
let stranger: Member;
beforeAll(async () => {
  [group, stranger] = await Promise.all([newGroupKey('Payroll bots'), newGroupKey('Strangers')]);
});

const tamper = (envelope: Envelope, field: 'encryptedKey' | 'iv' | 'tag' | 'ciphertext', index = 0): Envelope => ({
  ...envelope,
  [field]: flipBit(Buffer.from(envelope[field], 'base64'), index).toString('base64'),
});

describe('encryptTo / decryptWith', () => {
  it('round-trips messages of any size, empty included', () => {
    for (const plaintext of [Buffer.alloc(0), Buffer.from('hunter2'), Buffer.alloc(1 << 20, 7)]) {
      const envelope = encryptTo(group.certificate.pem, plaintext);
      // Buffer.equals, not toEqual: vitest's deep equality walks a megabyte byte by byte.
      expect(decryptWith(envelope, group.keyPair.privateKey).equals(plaintext)).toBe(true);
    }
  });

  it('names the recipient and has the sizes of RSA-2048 OAEP + AES-256-GCM', () => {
    const envelope = encryptTo(group.certificate.pem, Buffer.from('secret'));
    expect(envelope.alg).toBe('RSA-OAEP-256+A256GCM');
    expect(envelope.thumbprint).toBe(group.certificate.thumbprint);
    expect(Buffer.from(envelope.encryptedKey, 'base64')).toHaveLength(256);
    expect(Buffer.from(envelope.iv, 'base64')).toHaveLength(12);
    expect(Buffer.from(envelope.tag, 'base64')).toHaveLength(16);
    expect(Buffer.from(envelope.ciphertext, 'base64')).toHaveLength(6);
  });

  it('wraps the content key with OAEP SHA-256: OAEP SHA-1 cannot unwrap it', () => {
    const encryptedKey = Buffer.from(encryptTo(group.certificate.pem, Buffer.from('x')).encryptedKey, 'base64');
    const key = group.keyPair.privateKey;
    const unwrap = (oaepHash: string) => privateDecrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash }, encryptedKey);
    expect(unwrap('sha256')).toHaveLength(32); // an AES-256 key
    expect(() => unwrap('sha1')).toThrow();
  });

  it('uses a fresh content key and IV for every message', () => {
    const a = encryptTo(group.certificate.pem, Buffer.from('same'));
    const b = encryptTo(group.certificate.pem, Buffer.from('same'));
    expect(a.encryptedKey).not.toBe(b.encryptedKey);
    expect(a.iv).not.toBe(b.iv);
    expect(a.ciphertext).not.toBe(b.ciphertext);
  });

  it('refuses the wrong private key with DECRYPTION_FAILED naming the envelope key', () => {
    const envelope = encryptTo(group.certificate.pem, Buffer.from('secret'));
    const error = rekeyErrorOf(() => decryptWith(envelope, stranger.keyPair.privateKey), 'DECRYPTION_FAILED');
    expect(error.kind).toBe('refused');
    expect(error.message).toContain(group.certificate.thumbprint);
    expect(error.details).toMatchObject({ thumbprint: group.certificate.thumbprint });
  });

  it('detects tampering with any part of the envelope', () => {
    const envelope = encryptTo(group.certificate.pem, Buffer.from('pay 100 to alice'));
    const key = group.keyPair.privateKey;
    rekeyErrorOf(() => decryptWith(tamper(envelope, 'ciphertext', 4), key), 'DECRYPTION_FAILED');
    rekeyErrorOf(() => decryptWith(tamper(envelope, 'tag', 15), key), 'DECRYPTION_FAILED');
    rekeyErrorOf(() => decryptWith(tamper(envelope, 'iv', 3), key), 'DECRYPTION_FAILED');
    rekeyErrorOf(() => decryptWith(tamper(envelope, 'encryptedKey', 100), key), 'DECRYPTION_FAILED');
    // Relabelled for another key: the thumbprint is authenticated data.
    rekeyErrorOf(() => decryptWith({ ...envelope, thumbprint: stranger.certificate.thumbprint }, key), 'DECRYPTION_FAILED');
    rekeyErrorOf(() => decryptWith({ ...envelope, ciphertext: '***' }, key), 'DECRYPTION_FAILED');
    rekeyErrorOf(() => decryptWith({ ...envelope, alg: 'RSA1_5' as Envelope['alg'] }, key), 'DECRYPTION_FAILED');
    expect(decryptWith(envelope, key).toString()).toBe('pay 100 to alice'); // the original is intact
  });

  it('checks the expected recipient when asked', () => {
    const envelope = encryptTo(group.certificate.pem, Buffer.from('secret'));
    expect(decryptWith(envelope, group.keyPair.privateKey, group.certificate.thumbprint).toString()).toBe('secret');
    const error = rekeyErrorOf(
      () => decryptWith(envelope, group.keyPair.privateKey, stranger.certificate.thumbprint),
      'DECRYPTION_FAILED',
    );
    expect(error.message).toContain(stranger.certificate.thumbprint);
  });

  it('parses each certificate once and accepts a resolved recipient', () => {
    const first = recipientOf(group.certificate.pem);
    expect(recipientOf(group.certificate.pem)).toBe(first); // cached, not re-parsed
    expect(first.thumbprint).toBe(group.certificate.thumbprint);
    const envelope = encryptTo(first, Buffer.from('via recipient'));
    expect(decryptWith(envelope, group.keyPair.privateKey).toString()).toBe('via recipient');
    rekeyErrorOf(() => encryptTo('not a certificate', Buffer.from('x')), 'CERTIFICATE_INVALID');
  });
});
