/**
 * Small helpers over node-forge's ASN.1 (DER) codec: builders that read like the ASN.1 they make,
 * and readers that check each node's tag before trusting it. Readers throw `MalformedDer`, which
 * callers turn into their own error code (the DER usually came from outside).
 */
import forge from 'node-forge';

export type Asn1 = forge.asn1.Asn1;
const { asn1 } = forge;
const UNIVERSAL = asn1.Class.UNIVERSAL;
const CONTEXT = asn1.Class.CONTEXT_SPECIFIC;

export class MalformedDer extends Error {
  override readonly name = 'MalformedDer';
}

// Builders. Binary values are Buffers here; forge wants "binary strings" (one char per byte).
export const seq = (...items: Array<Asn1 | undefined>): Asn1 =>
  asn1.create(UNIVERSAL, asn1.Type.SEQUENCE, true, items.filter((item): item is Asn1 => item !== undefined));
export const set = (...items: Asn1[]): Asn1 => asn1.create(UNIVERSAL, asn1.Type.SET, true, items);
export const oid = (dotted: string): Asn1 => asn1.create(UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(dotted).getBytes());
export const octets = (bytes: Buffer): Asn1 => asn1.create(UNIVERSAL, asn1.Type.OCTETSTRING, false, bytes.toString('binary'));
export const integer = (value: number): Asn1 =>
  asn1.create(UNIVERSAL, asn1.Type.INTEGER, false, asn1.integerToDer(value).getBytes());
export const nul = (): Asn1 => asn1.create(UNIVERSAL, asn1.Type.NULL, false, '');
/** `[0] EXPLICIT`, the wrapper PKCS#7 and PKCS#12 put around content. */
export const explicit0 = (item: Asn1): Asn1 => asn1.create(CONTEXT, 0, true, [item]);

export function toDer(node: Asn1): Buffer {
  return Buffer.from(asn1.toDer(node).getBytes(), 'binary');
}

/** Strict DER, every byte consumed. */
export function fromDer(bytes: Buffer | string, what: string): Asn1 {
  try {
    return asn1.fromDer(typeof bytes === 'string' ? bytes : bytes.toString('binary'), true);
  } catch (error) {
    throw new MalformedDer(`${what} is not valid DER (${(error as Error).message})`);
  }
}

export function need(condition: unknown, message: string): asserts condition {
  if (!condition) throw new MalformedDer(message);
}

function children(node: Asn1 | undefined, what: string): Asn1[] {
  need(node !== undefined && node.constructed && Array.isArray(node.value), `${what} is missing or not constructed`);
  return node.value as Asn1[];
}

export function readSeq(node: Asn1 | undefined, what: string, minItems = 0): Asn1[] {
  need(node?.tagClass === UNIVERSAL && node.type === asn1.Type.SEQUENCE, `${what} is not a SEQUENCE`);
  const items = children(node, what);
  need(items.length >= minItems, `${what} has ${items.length} items, expected at least ${minItems}`);
  return items;
}

/** A SEQUENCE of exactly `count` items, or of `count` with the last OPTIONAL one absent. */
export function readSeqExactly(node: Asn1 | undefined, what: string, count: number, lastOptional = false): Asn1[] {
  const items = readSeq(node, what, lastOptional ? count - 1 : count);
  need(items.length <= count, `${what} has ${items.length} items, expected ${count}`);
  return items;
}

export function readNull(node: Asn1 | undefined, what: string): void {
  need(node?.tagClass === UNIVERSAL && node.type === asn1.Type.NULL && node.value === '', `${what} is not NULL`);
}

export function readSet(node: Asn1 | undefined, what: string): Asn1[] {
  need(node?.tagClass === UNIVERSAL && node.type === asn1.Type.SET, `${what} is not a SET`);
  return children(node, what);
}

export function readOid(node: Asn1 | undefined, what: string): string {
  need(node?.tagClass === UNIVERSAL && node.type === asn1.Type.OID && typeof node.value === 'string', `${what} is not an OID`);
  return asn1.derToOid(node.value);
}

/** An OCTET STRING's bytes; BER's constructed (chunked) form is joined, as PKCS#12 readers must. */
export function readOctets(node: Asn1 | undefined, what: string): Buffer {
  need(node?.tagClass === UNIVERSAL && node.type === asn1.Type.OCTETSTRING, `${what} is not an OCTET STRING`);
  if (typeof node.value === 'string') return Buffer.from(node.value, 'binary');
  return Buffer.concat(children(node, what).map((chunk) => readOctets(chunk, what)));
}

/** A non-negative INTEGER that fits a JavaScript safe integer. */
export function readInteger(node: Asn1 | undefined, what: string): number {
  need(node?.tagClass === UNIVERSAL && node.type === asn1.Type.INTEGER && typeof node.value === 'string', `${what} is not an INTEGER`);
  const bytes = Buffer.from(node.value, 'binary');
  need(bytes.length >= 1 && bytes.length <= 6 && (bytes[0]! & 0x80) === 0, `${what} is negative or too large`);
  return bytes.readUIntBE(0, bytes.length);
}

export function readExplicit0(node: Asn1 | undefined, what: string): Asn1 {
  need(node?.tagClass === CONTEXT && node.type === 0, `${what} is not tagged [0]`);
  const items = children(node, what);
  need(items.length === 1, `${what} holds ${items.length} items, expected 1`);
  return items[0]!;
}
