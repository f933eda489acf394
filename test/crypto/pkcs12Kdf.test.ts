import { randomBytes } from 'node:crypto';
import forge from 'node-forge';
import { describe, expect, it } from 'vitest';
import { pkcs12MacKey, type MacHash } from '../../src/crypto/pkcs12Kdf.js';

/** forge's implementation of RFC 7292 B.2, the reference this module must agree with byte for byte. */
function forgeMacKey(hash: MacHash, password: string, salt: Buffer, iterations: number): Buffer {
  const md = forge.md[hash].create();
  const key = forge.pkcs12.generateKey(password, forge.util.createBuffer(salt.toString('binary')), 3, iterations, md.digestLength, md);
  return Buffer.from(key.getBytes(), 'binary');
}

describe('pkcs12MacKey (RFC 7292 B.2, MAC key)', () => {
  const hashes: MacHash[] = ['sha1', 'sha256', 'sha512'];
  const passwords = ['smeg', 'correct horse battery staple', 'Zürich-Café €', 'x'.repeat(70)];
  // Salt lengths below, at and above the hash block (64 and 128 bytes), where B.2's padding differs.
  const salts = [8, 16, 64, 70, 130].map((length) => randomBytes(length));

  it('matches forge for every hash, password and salt shape', () => {
    for (const hash of hashes) {
      for (const password of passwords) {
        for (const salt of salts) {
          for (const iterations of [1, 2, 37]) {
            expect(pkcs12MacKey(hash, password, salt, iterations).toString('hex'), `${hash} ${password} ${salt.length} ${iterations}`).toBe(
              forgeMacKey(hash, password, salt, iterations).toString('hex'),
            );
          }
        }
      }
    }
  });

  it('matches forge at a realistic iteration count', () => {
    const salt = randomBytes(16);
    expect(pkcs12MacKey('sha256', 'pässword', salt, 3000)).toEqual(forgeMacKey('sha256', 'pässword', salt, 3000));
  });

  it('depends on password, salt and iteration count', () => {
    const salt = randomBytes(16);
    const base = pkcs12MacKey('sha256', 'password', salt, 10).toString('hex');
    expect(pkcs12MacKey('sha256', 'passwore', salt, 10).toString('hex')).not.toBe(base);
    expect(pkcs12MacKey('sha256', 'password', randomBytes(16), 10).toString('hex')).not.toBe(base);
    expect(pkcs12MacKey('sha256', 'password', salt, 11).toString('hex')).not.toBe(base);
    expect(() => pkcs12MacKey('sha256', 'password', salt, 0)).toThrow(RangeError);
  });
});
