import { sign } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { signProof, verifyProof } from '../../src/crypto/index.js';
import { newGroupKey, rekeyErrorOf, type Member } from './fixtures.js';

let group: Member;
let stranger: Member;
beforeAll(async () => {
  [group, stranger] = await Promise.all([newGroupKey('G'), newGroupKey('Other')]);
});

const MESSAGE = 'join group G as machine M-7 at 2025-06-01T00:00:00Z nonce 4f2a';

describe('signProof / verifyProof', () => {
  it('accepts a proof made with the group key, for exactly that message', () => {
    const signature = signProof(group.keyPair.privateKey, MESSAGE);
    expect(Buffer.from(signature, 'base64')).toHaveLength(256);
    expect(verifyProof(group.certificate.pem, MESSAGE, signature)).toBe(true);
    expect(verifyProof(group.certificate.pem, `${MESSAGE} `, signature)).toBe(false);
    expect(verifyProof(group.certificate.pem, MESSAGE.replace('M-7', 'M-8'), signature)).toBe(false);
  });

  it('rejects a proof made with another key', () => {
    const signature = signProof(stranger.keyPair.privateKey, MESSAGE);
    expect(verifyProof(group.certificate.pem, MESSAGE, signature)).toBe(false);
  });

  it('rejects altered or malformed signatures without throwing', () => {
    const signature = Buffer.from(signProof(group.keyPair.privateKey, MESSAGE), 'base64');
    signature[10] = signature[10]! ^ 1;
    expect(verifyProof(group.certificate.pem, MESSAGE, signature.toString('base64'))).toBe(false);
    for (const junk of ['', 'AAAA', 'not base64!', signature.subarray(0, 128).toString('base64')]) {
      expect(verifyProof(group.certificate.pem, MESSAGE, junk)).toBe(false);
    }
  });

  it('is randomized PSS, and a plain RSA-SHA256 signature of the message is not a proof', () => {
    const a = signProof(group.keyPair.privateKey, MESSAGE);
    const b = signProof(group.keyPair.privateKey, MESSAGE);
    expect(a).not.toBe(b); // PKCS#1 v1.5 would be deterministic
    expect(verifyProof(group.certificate.pem, MESSAGE, b)).toBe(true);
    const plain = sign('sha256', Buffer.from(MESSAGE), group.keyPair.privateKey).toString('base64');
    expect(verifyProof(group.certificate.pem, MESSAGE, plain)).toBe(false);
  });

  it('answers CERTIFICATE_INVALID for a certificate that does not parse', () => {
    rekeyErrorOf(() => verifyProof('garbage', MESSAGE, 'AAAA'), 'CERTIFICATE_INVALID');
  });
});
