import { describe, expect, it } from 'vitest';
import { generateKeyPair } from '../../src/crypto/index.js';
import { secretsFound } from './secrets.js';

describe('the secret scanner finds what it looks for', () => {
  it('finds a password, a JSON-escaped credential and a private key in PEM, DER and base64, and nothing in clean bytes', async () => {
    const { privateKey, publicKey } = await generateKeyPair();
    const secrets = { strings: ['Tr1cky-Passw0rd', 'CONTOSO\\svc'], privateKeys: [privateKey] };
    const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'der' });
    expect(secretsFound([Buffer.from('x Tr1cky-Passw0rd y')], secrets)).toEqual(['string Tr1cky-Passw0rd']);
    expect(secretsFound([Buffer.from(JSON.stringify({ user: 'CONTOSO\\svc' }))], secrets)).toEqual(['JSON-escaped string CONTOSO\\svc']);
    expect(secretsFound([Buffer.from(privateKey.export({ type: 'pkcs8', format: 'pem' }) as string)], secrets).length).toBeGreaterThan(0);
    expect(secretsFound([Buffer.concat([Buffer.from('prefix'), pkcs8])], secrets).length).toBeGreaterThan(0);
    expect(secretsFound([Buffer.from(pkcs8.toString('base64'))], secrets).length).toBeGreaterThan(0);
    // The public key (as in a certificate) is not a secret and must not be flagged.
    const spki = publicKey.export({ type: 'spki', format: 'der' });
    expect(secretsFound([spki, Buffer.from(spki.toString('base64'))], secrets)).toEqual([]);
  });
});
