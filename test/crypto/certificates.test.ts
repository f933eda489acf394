import { X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  createGroupCertificate,
  generateKeyPair,
  parseCertificate,
  thumbprintOf,
  type KeyPair,
} from '../../src/crypto/index.js';
import { rekeyErrorOf } from './fixtures.js';

let keyPair: KeyPair;
let otherKeyPair: KeyPair;
beforeAll(async () => {
  [keyPair, otherKeyPair] = await Promise.all([generateKeyPair(), generateKeyPair()]);
});

const issue = (overrides: Partial<Parameters<typeof createGroupCertificate>[0]> = {}) =>
  createGroupCertificate({
    keyPair,
    groupName: 'Payroll bots',
    version: 3,
    notBefore: '2025-03-01T12:34:56Z',
    notAfter: '2030-02-28T12:34:56Z',
    ...overrides,
  });

describe('createGroupCertificate', () => {
  it('issues a self-signed certificate that OpenSSL parses and verifies with the group key', () => {
    const certificate = issue();
    const x509 = new X509Certificate(certificate.pem);
    expect(x509.verify(keyPair.publicKey)).toBe(true);
    expect(x509.verify(otherKeyPair.publicKey)).toBe(false);
    expect(x509.subject).toBe('CN=rekey machine group Payroll bots v3');
    expect(x509.issuer).toBe(x509.subject);
    expect(x509.publicKey.export({ type: 'spki', format: 'der' })).toEqual(keyPair.publicKey.export({ type: 'spki', format: 'der' }));
    expect(x509.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    // forge's own verification is what a leading-zero serial breaks.
    const parsed = forge.pki.certificateFromPem(certificate.pem);
    expect(parsed.verify(parsed)).toBe(true);
    expect(parsed.siginfo.algorithmOid).toBe(forge.pki.oids.sha256WithRSAEncryption);
  });

  it('carries exactly the given validity instants', () => {
    const certificate = issue();
    const x509 = new X509Certificate(certificate.pem);
    expect(x509.validFrom).toBe('Mar  1 12:34:56 2025 GMT');
    expect(x509.validTo).toBe('Feb 28 12:34:56 2030 GMT');
    expect(certificate.notBefore).toBe('2025-03-01T12:34:56.000Z');
    expect(certificate.notAfter).toBe('2030-02-28T12:34:56.000Z');
    const parsed = parseCertificate(certificate.pem);
    expect(parsed.notBefore).toBe(certificate.notBefore);
    expect(parsed.notAfter).toBe(certificate.notAfter);
  });

  it('reads an explicit offset as that instant, and handles dates from 2050 (GeneralizedTime)', () => {
    const certificate = issue({ notBefore: '2049-12-31T23:59:59-01:00', notAfter: '2055-06-30T23:59:59Z' });
    expect(certificate.notBefore).toBe('2050-01-01T00:59:59.000Z');
    const x509 = new X509Certificate(certificate.pem);
    expect(x509.validFrom).toBe('Jan  1 00:59:59 2050 GMT');
    expect(x509.validTo).toBe('Jun 30 23:59:59 2055 GMT');
    expect(parseCertificate(certificate.pem).notAfter).toBe('2055-06-30T23:59:59.000Z');
  });

  it('refuses instants it cannot put in the certificate exactly', () => {
    // No zone: the process time zone would decide the instant.
    expect(() => issue({ notBefore: '2025-03-01T12:34:56' })).toThrow(RangeError);
    expect(() => issue({ notBefore: '2025-03-01T12:34:56.500Z' })).toThrow(/fractional seconds/);
    expect(() => issue({ notAfter: '2025-03-01T12:34:56Z' })).toThrow(/must be after/);
    expect(() => issue({ notBefore: 'yesterday' })).toThrow(RangeError);
  });

  it('uses positive serials without a leading zero byte, different for every certificate', () => {
    const serials = new Set<string>();
    // With a naive random serial, 1 in 256 would start with 00 and 1 in 2 be negative: 300 draws catch it.
    for (let i = 0; i < 300; i++) {
      const serial = new X509Certificate(issue().pem).serialNumber;
      expect(serial).toMatch(/^[0-9A-F]+$/);
      expect(serial.startsWith('00')).toBe(false);
      expect(Number.parseInt(serial.slice(0, 2), 16)).toBeLessThan(0x80);
      expect(serial.length).toBe(32);
      serials.add(serial);
    }
    expect(serials.size).toBe(300);
  });

  it('is an end-entity certificate for signing and encryption', () => {
    const certificate = forge.pki.certificateFromPem(issue().pem);
    expect(new X509Certificate(issue().pem).ca).toBe(false);
    expect(certificate.getExtension('basicConstraints')).toMatchObject({ cA: false, critical: true });
    expect(certificate.getExtension('keyUsage')).toMatchObject({
      critical: true,
      digitalSignature: true,
      keyEncipherment: true,
      dataEncipherment: true,
      keyCertSign: false,
    });
  });

  it('puts any group name into the subject as UTF-8', () => {
    const x509 = new X509Certificate(issue({ groupName: 'Zürich_ops@night', version: 12 }).pem);
    expect(x509.subject).toBe('CN=rekey machine group Zürich_ops@night v12');
  });

  it('refuses a key pair whose halves do not belong together', () => {
    expect(() => issue({ keyPair: { publicKey: otherKeyPair.publicKey, privateKey: keyPair.privateKey } })).toThrow(TypeError);
  });
});

describe('thumbprintOf and parseCertificate', () => {
  it('thumbprint is the upper-case SHA-256 fingerprint of the DER, without colons', () => {
    const certificate = issue();
    const expected = new X509Certificate(certificate.pem).fingerprint256.replace(/:/g, '');
    expect(certificate.thumbprint).toBe(expected);
    expect(thumbprintOf(certificate.pem)).toBe(expected);
    expect(parseCertificate(certificate.pem).thumbprint).toBe(expected);
    expect(issue().thumbprint).not.toBe(expected); // a new serial makes a new certificate
  });

  it('returns the public key of the certificate', () => {
    const { publicKey } = parseCertificate(issue().pem);
    expect(publicKey.export({ type: 'spki', format: 'der' })).toEqual(keyPair.publicKey.export({ type: 'spki', format: 'der' }));
  });

  it('answers CERTIFICATE_INVALID (validation) for anything that is not a certificate', () => {
    const pem = issue().pem;
    const lines = pem.split('\n');
    lines.splice(5, 1); // a truncated DER inside intact PEM armour
    for (const garbage of ['', 'hello', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', lines.join('\n')]) {
      const error = rekeyErrorOf(() => parseCertificate(garbage), 'CERTIFICATE_INVALID');
      expect(error.kind).toBe('validation');
      rekeyErrorOf(() => thumbprintOf(garbage), 'CERTIFICATE_INVALID');
    }
    rekeyErrorOf(() => parseCertificate(undefined as unknown as string), 'CERTIFICATE_INVALID');
  });
});
