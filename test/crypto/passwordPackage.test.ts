import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPrivateKey, type KeyObject } from 'node:crypto';
import forge from 'node-forge';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  MAX_PKCS12_ITERATIONS,
  PKCS12_ITERATIONS,
  createPasswordPackage,
  openPasswordPackage,
} from '../../src/crypto/index.js';
import { fromDer, readExplicit0, readInteger, readOctets, readOid, readSeq, seq, toDer } from '../../src/crypto/der.js';
import { flipBit, newGroupKey, rekeyErrorOf, type Member } from './fixtures.js';

const PASSWORD = 'correct horse battery staple';
let member: Member;
let other: Member;
let pkg: string; // default iteration count
let fastPkg: string; // 2,048 iterations, for tests that open many times
beforeAll(async () => {
  [member, other] = await Promise.all([newGroupKey('Payroll bots'), newGroupKey('Other')]);
  const input = { privateKey: member.keyPair.privateKey, certificatePem: member.certificate.pem, password: PASSWORD };
  pkg = createPasswordPackage(input);
  fastPkg = createPasswordPackage({ ...input, iterations: 2048 });
});

const pkcs8 = (key: KeyObject): Buffer => key.export({ type: 'pkcs8', format: 'der' });

describe('createPasswordPackage / openPasswordPackage', () => {
  it('round-trips the private key and the certificate', () => {
    const opened = openPasswordPackage(pkg, PASSWORD);
    expect(pkcs8(opened.privateKey)).toEqual(pkcs8(member.keyPair.privateKey));
    expect(opened.certificatePem).toBe(member.certificate.pem);
    expect(opened.thumbprint).toBe(member.certificate.thumbprint);
  });

  it('uses AES-256-CBC under PBES2/PBKDF2-HMAC-SHA256 and a SHA-256 MAC, with PKCS12_ITERATIONS >= 10,000', () => {
    expect(PKCS12_ITERATIONS).toBeGreaterThanOrEqual(10_000);
    const [, authSafe, macData] = readSeq(fromDer(Buffer.from(pkg, 'base64'), 'pfx'), 'pfx', 3);
    const [digestInfo, , macIterations] = readSeq(macData, 'mac', 3);
    expect(readOid(readSeq(readSeq(digestInfo, 'di')[0], 'alg')[0], 'oid')).toBe('2.16.840.1.101.3.4.2.1'); // SHA-256
    expect(readInteger(macIterations, 'iterations')).toBe(PKCS12_ITERATIONS);
    // AuthenticatedSafe -> second ContentInfo -> SafeContents -> shrouded key bag -> EncryptedPrivateKeyInfo
    const safe = fromDer(readOctets(readExplicit0(readSeq(authSafe, 'ci')[1], 'c'), 'o'), 'safe');
    const keySafe = fromDer(readOctets(readExplicit0(readSeq(readSeq(safe, 's')[1], 'ci')[1], 'c'), 'o'), 'keys');
    const [bagId, bagValue] = readSeq(readSeq(keySafe, 'bags')[0], 'bag');
    expect(readOid(bagId, 'bag')).toBe('1.2.840.113549.1.12.10.1.2'); // pkcs8ShroudedKeyBag
    const [algorithm] = readSeq(readExplicit0(bagValue, 'v'), 'epki');
    const [pbes2, params] = readSeq(algorithm, 'alg');
    expect(readOid(pbes2, 'pbes2')).toBe('1.2.840.113549.1.5.13');
    const [kdf, encryption] = readSeq(params, 'params');
    const [, pbkdf2Params] = readSeq(kdf, 'kdf');
    const [, count, prf] = readSeq(pbkdf2Params, 'p');
    expect(readInteger(count, 'count')).toBe(PKCS12_ITERATIONS);
    expect(readOid(readSeq(prf, 'prf')[0], 'prf')).toBe('1.2.840.113549.2.9'); // hmacWithSHA256
    expect(readOid(readSeq(encryption, 'enc')[0], 'enc')).toBe('2.16.840.1.101.3.4.1.42'); // aes256-CBC
  });

  it('never contains the private key in the clear', () => {
    const bytes = Buffer.from(pkg, 'base64');
    const key = member.keyPair.privateKey;
    expect(bytes.includes(pkcs8(key))).toBe(false);
    expect(bytes.includes(key.export({ type: 'pkcs1', format: 'der' }))).toBe(false);
    const pemBody = (key.export({ type: 'pkcs8', format: 'pem' }) as string).split('\n')[1]!;
    expect(pkg.includes(pemBody)).toBe(false);
    // Nor any of the secret numbers on their own.
    const jwk = key.export({ format: 'jwk' });
    for (const secret of [jwk.d, jwk.p, jwk.q, jwk.dp, jwk.dq, jwk.qi]) {
      expect(bytes.includes(Buffer.from(secret!, 'base64url'))).toBe(false);
    }
  });

  it('refuses a wrong password with PASSWORD_INCORRECT (refused, "password is incorrect")', () => {
    for (const wrong of ['correct horse battery stapler', 'Correct horse battery staple', ' ', '']) {
      const error = rekeyErrorOf(() => openPasswordPackage(pkg, wrong), 'PASSWORD_INCORRECT');
      expect(error.kind).toBe('refused');
      expect(error.message).toBe('password is incorrect');
    }
  });

  it('opens with the same Unicode password however it was composed (NFC)', () => {
    const composed = 'Zürich-Café';
    const decomposed = composed.normalize('NFD');
    expect(decomposed).not.toBe(composed);
    const unicodePkg = createPasswordPackage({
      privateKey: member.keyPair.privateKey,
      certificatePem: member.certificate.pem,
      password: composed,
      iterations: 2048,
    });
    expect(openPasswordPackage(unicodePkg, decomposed).thumbprint).toBe(member.certificate.thumbprint);
    rekeyErrorOf(() => openPasswordPackage(unicodePkg, 'Zurich-Cafe'), 'PASSWORD_INCORRECT');
  });

  it('detects any flipped byte (never opens, always a RekeyError)', () => {
    const bytes = Buffer.from(fastPkg, 'base64');
    // Every byte of the header and the MAC, and a spread of bytes through the certificate and key.
    const positions = new Set<number>();
    for (let i = 0; i < 24; i++) positions.add(i);
    for (let i = bytes.length - 80; i < bytes.length; i++) positions.add(i);
    for (let i = 0; i < bytes.length; i += 37) positions.add(i);
    for (const position of positions) {
      const damaged = flipBit(bytes, position, position % 8).toString('base64');
      rekeyErrorOf(() => openPasswordPackage(damaged, PASSWORD), 'PASSWORD_INCORRECT', 'PACKAGE_CORRUPT');
    }
  });

  it('answers PACKAGE_CORRUPT (validation) for bytes that are not a PKCS#12 package', () => {
    const certificateDer = Buffer.from(member.certificate.pem.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');
    const garbage = [
      'not base64 at all!',
      Buffer.from('hello world, this is not DER').toString('base64'),
      certificateDer.toString('base64'), // valid DER, wrong structure
      Buffer.from(fastPkg, 'base64').subarray(0, 500).toString('base64'), // truncated
    ];
    for (const text of garbage) {
      const error = rekeyErrorOf(() => openPasswordPackage(text, PASSWORD), 'PACKAGE_CORRUPT');
      expect(error.kind).toBe('validation');
    }
  });

  it('refuses a package whose MAC was stripped (no integrity, no password check)', () => {
    const [version, authSafe] = readSeq(fromDer(Buffer.from(fastPkg, 'base64'), 'pfx'), 'pfx', 3);
    const stripped = toDer(seq(version, authSafe)).toString('base64');
    rekeyErrorOf(() => openPasswordPackage(stripped, PASSWORD), 'PACKAGE_CORRUPT');
  });

  it('refuses absurd iteration counts quickly instead of running them', () => {
    const pfx = fromDer(Buffer.from(fastPkg, 'base64'), 'pfx');
    const macData = readSeq(pfx, 'pfx', 3)[2]!;
    const iterations = readSeq(macData, 'mac', 3)[2]!;
    iterations.value = Buffer.from([0x7f, 0xff, 0xff, 0xff]).toString('binary');
    const started = performance.now();
    const error = rekeyErrorOf(() => openPasswordPackage(toDer(pfx).toString('base64'), PASSWORD), 'PACKAGE_CORRUPT');
    expect(error.message).toContain(`outside 1..${MAX_PKCS12_ITERATIONS}`);
    expect(performance.now() - started).toBeLessThan(500);
  });

  it('checks its inputs when creating', () => {
    const input = { privateKey: member.keyPair.privateKey, certificatePem: member.certificate.pem, password: PASSWORD };
    expect(() => createPasswordPackage({ ...input, iterations: 1000 })).toThrow(RangeError);
    expect(() => createPasswordPackage({ ...input, password: '' })).toThrow(RangeError);
    expect(() => createPasswordPackage({ ...input, privateKey: member.keyPair.publicKey })).toThrow(TypeError);
    // The key of one group with the certificate of another would be a package that cannot work.
    expect(() => createPasswordPackage({ ...input, certificatePem: other.certificate.pem })).toThrow(/does not belong/);
    rekeyErrorOf(() => createPasswordPackage({ ...input, certificatePem: 'nope' }), 'CERTIFICATE_INVALID');
  });
});

describe('PKCS#12 interoperability', () => {
  it("forge's reader opens rekey's package with the password and rejects a wrong one", () => {
    const asn1 = forge.asn1.fromDer(forge.util.decode64(fastPkg));
    const p12 = forge.pkcs12.pkcs12FromAsn1(asn1, true, PASSWORD);
    const keyBag = p12.getBags({ bagType: forge.pki.oids.pkcs8ShroudedKeyBag! })[forge.pki.oids.pkcs8ShroudedKeyBag!]![0]!;
    const certBag = p12.getBags({ bagType: forge.pki.oids.certBag! })[forge.pki.oids.certBag!]![0]!;
    const forgeKeyPem = forge.pki.privateKeyToPem(keyBag.key!);
    expect(pkcs8(createPrivateKey(forgeKeyPem))).toEqual(pkcs8(member.keyPair.privateKey));
    expect(forge.pki.certificateToPem(certBag.cert!).replace(/\r\n/g, '\n')).toBe(member.certificate.pem);
    expect(() => forge.pkcs12.pkcs12FromAsn1(forge.asn1.fromDer(forge.util.decode64(fastPkg)), true, 'wrong')).toThrow(/MAC/);
  });

  it("opens a package written by forge's toPkcs12Asn1 (aes256)", () => {
    const forgeKey = forge.pki.privateKeyFromPem(member.keyPair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
    const asn1 = forge.pkcs12.toPkcs12Asn1(forgeKey, forge.pki.certificateFromPem(member.certificate.pem), PASSWORD, { algorithm: 'aes256', count: 2048 });
    const forgePkg = forge.util.encode64(forge.asn1.toDer(asn1).getBytes());
    const opened = openPasswordPackage(forgePkg, PASSWORD);
    expect(pkcs8(opened.privateKey)).toEqual(pkcs8(member.keyPair.privateKey));
    expect(opened.thumbprint).toBe(member.certificate.thumbprint);
    rekeyErrorOf(() => openPasswordPackage(forgePkg, 'wrong'), 'PASSWORD_INCORRECT');
  });

  const openssl = spawnSync('openssl', ['version']).status === 0;
  it.skipIf(!openssl)('OpenSSL reads the package with the password (when the openssl CLI is installed)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rekey-p12-'));
    try {
      const file = join(dir, 'group.p12');
      writeFileSync(file, Buffer.from(pkg, 'base64'));
      const env = { ...process.env, REKEY_TEST_PASSWORD: PASSWORD };
      const good = spawnSync('openssl', ['pkcs12', '-in', file, '-passin', 'env:REKEY_TEST_PASSWORD', '-nodes'], { env, encoding: 'utf8' });
      expect(good.status, good.stderr).toBe(0);
      const keyPem = /-----BEGIN PRIVATE KEY-----[\s\S]+?-----END PRIVATE KEY-----/.exec(good.stdout)![0];
      expect(pkcs8(createPrivateKey(keyPem))).toEqual(pkcs8(member.keyPair.privateKey));
      const bad = spawnSync('openssl', ['pkcs12', '-in', file, '-passin', 'pass:wrong', '-noout'], { encoding: 'utf8' });
      expect(bad.status).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
