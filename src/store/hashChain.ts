/**
 * The hash chain that covers every stored event (docs/model.md, Events).
 *
 *   hash(e) = hex SHA-256( previousHash + canonicalJson({ data, metadata, position, revision, stream, type }) )
 *
 * where `previousHash` is the hash of the event at `position - 1`, or 64 zeros (`GENESIS_HASH`) for
 * position 1. `canonicalJson` is JSON with object keys sorted (by UTF-16 code units, as
 * `Array.prototype.sort` does) and no whitespace, so the same value always serialises to the same
 * text. Stores keep `data` and `metadata` in exactly that canonical text, which lets them hash the
 * stored text directly (`eventHashFromJson`) without parsing it again.
 *
 * `verifyChain` walks events in position order and reports the first one whose hash does not match
 * (`tampered`) or the first position that is absent (`missing`); with `expectHead` it also detects a
 * log cut short at its end, which a chain alone cannot show.
 */
import * as nodeCrypto from 'node:crypto';
import type { RecordedEvent } from './port.js';

export const GENESIS_HASH = '0'.repeat(64);

/**
 * Deterministic JSON: sorted object keys, no whitespace. Otherwise the semantics of
 * `JSON.stringify` (undefined, functions and symbols are dropped from objects and become null in
 * arrays; `toJSON` is honoured; non-finite numbers become null; a bigint throws), so
 * `JSON.parse(canonicalJson(v))` is what a store hands back for `v`, and
 * `canonicalJson(JSON.parse(canonicalJson(v))) === canonicalJson(v)`.
 */
export function canonicalJson(value: unknown): string {
  const text = serialize(value, true);
  if (text === undefined) throw new TypeError(`canonicalJson: ${typeof value} is not serialisable`);
  return text;
}

// Quoted object keys, memoised: event fields reuse a small set of names, and JSON.stringify of a
// key is a measurable part of an append. Bounded so that odd data cannot grow it without limit.
const quotedKeys = new Map<string, string>();
const MAX_QUOTED_KEYS = 10_000;

function quoteKey(key: string): string {
  let quoted = quotedKeys.get(key);
  if (quoted === undefined) {
    quoted = JSON.stringify(key) + ':';
    if (quotedKeys.size < MAX_QUOTED_KEYS) quotedKeys.set(key, quoted);
  }
  return quoted;
}

function serialize(value: unknown, inArrayOrTop: boolean): string | undefined {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      // Number#toString is what JSON.stringify uses for finite numbers (-0 becomes "0" in both).
      return Number.isFinite(value) ? '' + value : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      throw new TypeError('canonicalJson: a bigint is not serialisable');
    case 'undefined':
    case 'function':
    case 'symbol':
      return inArrayOrTop ? 'null' : undefined;
    default:
      break;
  }
  if (value === null) return 'null';
  const obj = value as Record<string, unknown> & { toJSON?: () => unknown };
  if (typeof obj.toJSON === 'function') return serialize(obj.toJSON(), inArrayOrTop);
  if (Array.isArray(obj)) {
    let out = '[';
    for (let i = 0; i < obj.length; i++) {
      if (i > 0) out += ',';
      out += serialize(obj[i], true);
    }
    return out + ']';
  }
  const keys = Object.keys(obj);
  for (let i = 1; i < keys.length; i++) {
    if (!(keys[i - 1]! < keys[i]!)) {
      keys.sort(); // default sort: by UTF-16 code units
      break;
    }
  }
  let out = '{';
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const item = serialize(obj[key], false);
    if (item === undefined) continue;
    out += (out.length === 1 ? '' : ',') + quoteKey(key) + item;
  }
  return out + '}';
}

/** The fields of an event that the chain covers. */
export interface ChainedFields {
  stream: string;
  revision: number;
  position: number;
  type: string;
  data: unknown;
  metadata: unknown;
}

/** The same fields with `data` and `metadata` already in canonical JSON text. */
export interface ChainedFieldsJson {
  stream: string;
  revision: number;
  position: number;
  type: string;
  dataJson: string;
  metadataJson: string;
}

/** Hex SHA-256 of `previousHash` and the canonical serialisation of the event's fields. */
export function eventHash(previousHash: string, fields: ChainedFields): string {
  return eventHashFromJson(previousHash, {
    stream: fields.stream,
    revision: fields.revision,
    position: fields.position,
    type: fields.type,
    dataJson: canonicalJson(fields.data),
    metadataJson: canonicalJson(fields.metadata),
  });
}

/**
 * `eventHash` for callers that hold `data` and `metadata` as canonical JSON text already. The
 * string built here is exactly `canonicalJson({ data, metadata, position, revision, stream, type })`
 * (keys in sorted order), so both functions agree.
 */
export function eventHashFromJson(previousHash: string, f: ChainedFieldsJson): string {
  const body =
    '{"data":' + f.dataJson +
    ',"metadata":' + f.metadataJson +
    ',"position":' + JSON.stringify(f.position) +
    ',"revision":' + JSON.stringify(f.revision) +
    ',"stream":' + JSON.stringify(f.stream) +
    ',"type":' + JSON.stringify(f.type) + '}';
  return sha256Hex(previousHash + body);
}

// crypto.hash (Node >= 20.12) hashes a string in one call, about twice as fast as createHash for
// inputs of this size; fall back to createHash on older runtimes.
const oneShotHash = (nodeCrypto as { hash?: (algorithm: string, data: string, encoding: 'hex') => string }).hash;
const sha256Hex: (text: string) => string = typeof oneShotHash === 'function'
  ? (text) => oneShotHash('sha256', text, 'hex')
  : (text) => nodeCrypto.createHash('sha256').update(text).digest('hex');

/**
 * An event as a store holds it on disk: `data`/`metadata` as stored text (hashed as is, so any
 * edited byte shows). `problem`, when a store sets it, marks the link as tampered even if its hash
 * matches (for example an indexed column that disagrees with the hashed metadata).
 */
export interface StoredChainLink extends ChainedFieldsJson {
  hash: string;
  problem?: string;
}

export type ChainLink = RecordedEvent | StoredChainLink;

export type VerifyFailureReason = 'tampered' | 'missing';

export type VerifyResult =
  | { ok: true; checked: number; headHash: string; headPosition: number }
  | { ok: false; position: number; reason: VerifyFailureReason; checked: number; message: string };

export interface VerifyChainOptions {
  /**
   * The head hash recorded earlier (e.g. by an audit). The log must reach it: if no verified
   * event carries this hash, the log was cut short, reported as `missing` at the position after
   * the last event. A log that has grown since the head was recorded still verifies.
   */
  expectHead?: string;
  /** Start the walk mid-log: the first event must be at this position ... (default 1) */
  fromPosition?: number;
  /** ... and chain onto this hash (default `GENESIS_HASH`). */
  previousHash?: string;
}

type Source = AsyncIterable<ChainLink | readonly ChainLink[]> | Iterable<ChainLink | readonly ChainLink[]>;

/**
 * Walks events (one by one or in pages, sync or async) in position order and returns the first
 * break in the chain, or the number of events checked and the head hash.
 */
export async function verifyChain(source: Source, options: VerifyChainOptions = {}): Promise<VerifyResult> {
  let expectedPosition = options.fromPosition ?? 1;
  let previousHash = options.previousHash ?? GENESIS_HASH;
  let checked = 0;
  let reachedExpectedHead = options.expectHead === undefined || options.expectHead === previousHash;

  const check = (link: ChainLink): VerifyResult | undefined => {
    if (link.position !== expectedPosition) {
      const reason: VerifyFailureReason = link.position > expectedPosition ? 'missing' : 'tampered';
      return {
        ok: false,
        position: expectedPosition,
        reason,
        checked,
        message: reason === 'missing'
          ? `event at position ${expectedPosition} is missing (the next event found is at position ${link.position})`
          : `event at position ${expectedPosition} is out of order (found position ${link.position})`,
      };
    }
    const computed = 'dataJson' in link
      ? eventHashFromJson(previousHash, link)
      : safeEventHash(previousHash, link);
    if (computed !== link.hash) {
      return {
        ok: false,
        position: link.position,
        reason: 'tampered',
        checked,
        message: `event at position ${link.position} (stream ${link.stream}, revision ${link.revision}) ` +
          `does not match its hash: stored ${link.hash}, computed ${computed}`,
      };
    }
    if ('problem' in link && link.problem !== undefined) {
      return { ok: false, position: link.position, reason: 'tampered', checked, message: link.problem };
    }
    previousHash = link.hash;
    expectedPosition++;
    checked++;
    if (!reachedExpectedHead && link.hash === options.expectHead) reachedExpectedHead = true;
    return undefined;
  };

  for await (const item of source as AsyncIterable<ChainLink | readonly ChainLink[]>) {
    if (Array.isArray(item)) {
      for (const link of item as readonly ChainLink[]) {
        const failure = check(link);
        if (failure) return failure;
      }
    } else {
      const failure = check(item as ChainLink);
      if (failure) return failure;
    }
  }
  if (!reachedExpectedHead) {
    return {
      ok: false,
      position: expectedPosition,
      reason: 'missing',
      checked,
      message: `the log ends at position ${expectedPosition - 1} with hash ${previousHash}, ` +
        `but the expected head hash ${options.expectHead} was never reached: events are missing from the end`,
    };
  }
  return { ok: true, checked, headHash: previousHash, headPosition: expectedPosition - 1 };
}

function safeEventHash(previousHash: string, event: RecordedEvent): string {
  try {
    return eventHash(previousHash, event);
  } catch {
    return '(unserialisable event)';
  }
}
