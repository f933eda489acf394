/** Shared helpers for the crypto tests: real keys and certificates, generated once per test file. */
import { expect } from 'vitest';
import { RekeyError } from '../../src/kernel/errors.js';
import { createGroupCertificate, generateKeyPair, type GroupCertificate, type KeyPair } from '../../src/crypto/index.js';

export interface Member {
  readonly keyPair: KeyPair;
  readonly certificate: GroupCertificate;
}

export async function newGroupKey(groupName = 'Payroll bots', version = 1): Promise<Member> {
  const keyPair = await generateKeyPair();
  const certificate = createGroupCertificate({
    keyPair,
    groupName,
    version,
    notBefore: '2025-01-01T00:00:00Z',
    notAfter: '2029-12-31T00:00:00Z',
  });
  return { keyPair, certificate };
}

/** Runs `action`, expects a RekeyError with one of `codes`, and returns it for further checks. */
export function rekeyErrorOf(action: () => unknown, ...codes: string[]): RekeyError {
  let thrown: unknown;
  try {
    action();
  } catch (error) {
    thrown = error;
  }
  expect(thrown, 'expected a RekeyError to be thrown').toBeDefined();
  if (!(thrown instanceof RekeyError)) throw new Error(`expected a RekeyError, got ${String(thrown)}`, { cause: thrown });
  expect(codes).toContain(thrown.code);
  return thrown;
}

/** A copy of `bytes` with one bit of byte `index` flipped. */
export function flipBit(bytes: Buffer, index: number, bit = 0): Buffer {
  const copy = Buffer.from(bytes);
  copy[index] = copy[index]! ^ (1 << bit);
  return copy;
}
