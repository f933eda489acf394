/**
 * The agent's key store file: encrypted under the machine passphrase (scrypt + AES-256-GCM), written
 * atomically with mode 0600, refused with a wrong passphrase or altered bytes, and read back whole.
 */
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateKeyPair } from '../../src/crypto/index.js';
import { isRekeyError } from '../../src/kernel/errors.js';
import { Keystore } from '../../src/remote/keystore.js';
import { generateSigningKey } from '../../src/remote/signing.js';
import { secretsFound } from '../engine/secrets.js';

const codeOf = (work: () => unknown) => {
  try {
    work();
  } catch (error) {
    return isRekeyError(error) ? error.code : String(error);
  }
  return 'no error';
};

describe('the agent key store file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rekey-keystore-'));
  const file = join(dir, 'nested', 'agent-FIN-01.keystore');

  it('round-trips the machine identity, the signing key and group keys, and holds none of them in the clear', async () => {
    const signing = generateSigningKey();
    const store = Keystore.create(file, 'correct horse', { name: 'FIN-01', server: 'http://127.0.0.1:1', signingKey: signing.privateKey });
    const pair = await generateKeyPair();
    store.contents.group = 'Finance';
    store.contents.groupKeys.push({ version: 1, thumbprint: 'AB'.repeat(32), certificatePem: '-----BEGIN CERTIFICATE-----\nxyz\n-----END CERTIFICATE-----\n', privateKey: pair.privateKey });
    store.save();

    const reopened = Keystore.open(file, 'correct horse');
    expect(reopened.contents.machineId).toBe(store.contents.machineId);
    expect(reopened.contents).toMatchObject({ name: 'FIN-01', group: 'Finance', server: 'http://127.0.0.1:1' });
    expect(reopened.heldThumbprints()).toEqual(['AB'.repeat(32)]);
    const der = (key: typeof pair.privateKey) => key.export({ type: 'pkcs8', format: 'der' });
    expect(der(reopened.contents.groupKeys[0]!.privateKey).equals(der(pair.privateKey))).toBe(true);
    expect(der(reopened.contents.signingKey).equals(der(signing.privateKey))).toBe(true);

    const bytes = readFileSync(file);
    expect(secretsFound([bytes], { strings: ['correct horse', 'Finance', 'FIN-01'], privateKeys: [pair.privateKey] })).toEqual([]);
    expect(JSON.parse(bytes.toString('utf8'))).toMatchObject({ format: 'rekey-agent-keystore', version: 1, cipher: 'aes-256-gcm', kdf: { name: 'scrypt', N: 32768, r: 8, p: 1 } });
  });

  it('is written atomically with mode 0600, leaving no temporary file behind', () => {
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const store = Keystore.open(file, 'correct horse');
    for (let i = 0; i < 5; i++) store.save();
    expect(readdirSync(join(dir, 'nested'))).toEqual(['agent-FIN-01.keystore']);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('refuses a wrong passphrase, altered bytes and altered parameters', () => {
    expect(codeOf(() => Keystore.open(file, 'wrong horse'))).toBe('KEYSTORE_PASSPHRASE_INCORRECT');
    const stored = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    const copy = join(dir, 'altered.keystore');
    const flipped = Buffer.from(stored.ciphertext as string, 'base64');
    flipped[10] = flipped[10]! ^ 1;
    writeFileSync(copy, JSON.stringify({ ...stored, ciphertext: flipped.toString('base64') }));
    expect(codeOf(() => Keystore.open(copy, 'correct horse'))).toBe('KEYSTORE_PASSPHRASE_INCORRECT');
    // The header is authenticated too: a lowered work factor does not open it.
    writeFileSync(copy, JSON.stringify({ ...stored, kdf: { ...(stored.kdf as object), N: 16384 } }));
    expect(codeOf(() => Keystore.open(copy, 'correct horse'))).toBe('KEYSTORE_PASSPHRASE_INCORRECT');
    writeFileSync(copy, 'not json');
    expect(codeOf(() => Keystore.open(copy, 'correct horse'))).toBe('KEYSTORE_CORRUPT');
    expect(codeOf(() => Keystore.open(file, ''))).toBe('KEYSTORE_PASSPHRASE_INCORRECT');
  });
});
