/** Test helpers to prove that no secret reached a byte of storage or output. */
import type { KeyObject } from 'node:crypto';
import { generateKeyPair } from '../../src/crypto/index.js';
import type { KeyPair, KeyPairSource } from '../../src/crypto/types.js';

/** A key source that generates real keys and remembers every one it handed out. */
export function recordingKeySource(): KeyPairSource & { generated: KeyPair[] } {
  const generated: KeyPair[] = [];
  return {
    generated,
    async next() {
      const pair = await generateKeyPair();
      generated.push(pair);
      return pair;
    },
  };
}

/**
 * Every encoding a private key could leak in. The needles come from the secret parts (the private
 * exponent d and the prime p), never from the modulus, which every certificate rightly shows.
 */
function encodingsOf(key: KeyObject): Buffer[] {
  const jwk = key.export({ format: 'jwk' });
  const secretParts = [jwk.d!, jwk.p!].map((part) => Buffer.from(part, 'base64url').subarray(0, 48));
  const pemLine = (type: 'pkcs8' | 'pkcs1') => (key.export({ type, format: 'pem' }) as string).split('\n')[10] ?? '';
  return [
    ...secretParts,
    ...secretParts.map((bytes) => Buffer.from(bytes.toString('base64').slice(0, 40))),
    ...secretParts.map((bytes) => Buffer.from(bytes.toString('base64url').slice(0, 40))),
    ...secretParts.map((bytes) => Buffer.from(bytes.toString('hex').slice(0, 40))),
    Buffer.from(pemLine('pkcs8')),
    Buffer.from(pemLine('pkcs1')),
  ];
}

/** Names of the secrets found in any haystack; [] when none is there. */
export function secretsFound(haystacks: Buffer[], secrets: { strings: string[]; privateKeys: KeyObject[] }): string[] {
  const needles: { name: string; bytes: Buffer }[] = [
    ...secrets.strings.flatMap((text) => {
      const escaped = JSON.stringify(text).slice(1, -1);
      return [
        { name: `string ${text}`, bytes: Buffer.from(text) },
        ...(escaped === text ? [] : [{ name: `JSON-escaped string ${text}`, bytes: Buffer.from(escaped) }]),
      ];
    }),
    ...secrets.privateKeys.flatMap((key, i) => encodingsOf(key).map((bytes, j) => ({ name: `private key ${i} encoding ${j}`, bytes }))),
  ];
  return needles.filter((needle) => haystacks.some((haystack) => haystack.includes(needle.bytes))).map((needle) => needle.name);
}
