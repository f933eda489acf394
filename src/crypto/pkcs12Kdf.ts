/**
 * The PKCS#12 key derivation (RFC 7292 appendix B.2), only as far as the package MAC needs it.
 *
 * Why not forge's `pkcs12.generateKey`: it hashes in pure JavaScript, and this loop is the whole
 * cost of checking a group password (the iteration count is the brute-force cost we buy). Node's
 * one-shot hash does the same loop 1.5-2x faster on these machines (see docs/security.md). The
 * tests pin this function to forge's output, so the two cannot drift apart.
 */
import { createHash } from 'node:crypto';
import * as nodeCrypto from 'node:crypto';

export type MacHash = 'sha1' | 'sha256' | 'sha384' | 'sha512';

/** Output size u and input block size v (in bytes) of each hash, as B.2 names them. */
const SIZES: Record<MacHash, { u: number; v: number }> = {
  sha1: { u: 20, v: 64 },
  sha256: { u: 32, v: 64 },
  sha384: { u: 48, v: 128 },
  sha512: { u: 64, v: 128 },
};

/** ID byte 3: "the bytes are to be used as a MAC key" (B.3). */
const MAC_KEY_ID = 3;

// `crypto.hash` (Node >= 20.12) skips the Hash object; fall back for older 20.x.
const digest: (algorithm: string, data: Buffer) => Buffer =
  typeof (nodeCrypto as { hash?: unknown }).hash === 'function'
    ? (algorithm, data) => nodeCrypto.hash(algorithm, data, 'buffer')
    : (algorithm, data) => createHash(algorithm).update(data).digest();

/**
 * The HMAC key for a PKCS#12 MacData: u bytes, so B.2's loop runs once (c = 1) and step 6c (which
 * only matters for a second block) never applies.
 *
 * The password enters as a BMPString (big-endian UTF-16) with a two-byte zero terminator, as B.1
 * requires and OpenSSL and Windows do.
 */
export function pkcs12MacKey(hash: MacHash, password: string, salt: Buffer, iterations: number): Buffer {
  const { v } = SIZES[hash];
  if (!Number.isSafeInteger(iterations) || iterations < 1) throw new RangeError(`iterations must be >= 1, got ${iterations}`);
  const bmp = Buffer.alloc(password.length * 2 + 2);
  for (let i = 0; i < password.length; i++) bmp.writeUInt16BE(password.charCodeAt(i), i * 2);
  const diversifier = Buffer.alloc(v, MAC_KEY_ID);
  let block = digest(hash, Buffer.concat([diversifier, repeatToBlocks(salt, v), repeatToBlocks(bmp, v)]));
  for (let round = 1; round < iterations; round++) block = digest(hash, block);
  bmp.fill(0);
  return block;
}

export function macHashSize(hash: MacHash): number {
  return SIZES[hash].u;
}

/** Copies of `bytes` concatenated to the next multiple of v bytes (the last copy truncated); empty stays empty. */
function repeatToBlocks(bytes: Buffer, v: number): Buffer {
  const length = v * Math.ceil(bytes.length / v);
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = bytes[i % bytes.length]!;
  return out;
}
