import { RekeyError, errorKind } from '../kernel/errors.js';

/** Raised by `append` when the stream's last revision differs from the expected one. */
export class WrongExpectedRevisionError extends RekeyError {
  constructor(
    readonly stream: string,
    readonly expected: number | 'any',
    readonly actual: number,
  ) {
    super(
      'WRONG_EXPECTED_REVISION',
      `stream ${stream} is at revision ${actual}, but the append expected revision ${expected}`,
      { stream, expected, actual },
    );
  }
}
errorKind('WRONG_EXPECTED_REVISION', 'conflict');

/** The store file is not a rekey event store (not SQLite, truncated, foreign schema, unreadable pages). */
export const STORE_CORRUPT = errorKind('STORE_CORRUPT', 'integrity');
/** The store file was written by a newer rekey whose schema this version does not know. */
export const STORE_SCHEMA_UNSUPPORTED = errorKind('STORE_SCHEMA_UNSUPPORTED', 'integrity');
/** A read-only store was asked to open a file that does not exist. */
export const STORE_NOT_FOUND = errorKind('STORE_NOT_FOUND', 'not_found');
/** `append` on a store opened read-only. */
export const STORE_READONLY = errorKind('STORE_READONLY', 'refused');
/** Any call on a store after `close()`. */
export const STORE_CLOSED = errorKind('STORE_CLOSED', 'internal');
/** `append`/`read*` called with a malformed argument (empty stream name, bad expected revision, ...). */
export const STORE_INVALID_ARGUMENT = errorKind('STORE_INVALID_ARGUMENT', 'validation');

export function storeCorrupt(file: string, reason: string): RekeyError {
  return new RekeyError(STORE_CORRUPT, `${file} is not a readable rekey event store: ${reason}`, { file, reason });
}

export function storeClosed(kind: string): RekeyError {
  return new RekeyError(STORE_CLOSED, `the ${kind} event store is closed`, { kind });
}

export function invalidStoreArgument(message: string, details: Record<string, unknown> = {}): RekeyError {
  return new RekeyError(STORE_INVALID_ARGUMENT, message, details);
}

/** Another process held the store file's write lock for longer than the busy timeout. */
export const STORE_BUSY = errorKind('STORE_BUSY', 'conflict');
/**
 * The disk under a store file is full: the write was rolled back and nothing of it acknowledged. The
 * HTTP API answers 507 Insufficient Storage; the CLI exits 1. Writes succeed again once space is freed.
 */
export const STORE_FULL = errorKind('STORE_FULL', 'internal');
