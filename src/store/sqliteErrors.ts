/**
 * SQLite's failures as rekey's store errors, for every SQLite file rekey writes (the event store and
 * the read model beside it). A full disk is `STORE_FULL`: the write was rolled back, nothing of it
 * was acknowledged, and the same connection works again once space is freed.
 */
import { RekeyError } from '../kernel/errors.js';
import { STORE_BUSY, STORE_FULL, STORE_NOT_FOUND, STORE_READONLY, storeCorrupt } from './errors.js';

interface SqliteError extends Error {
  code: string;
}

export function isSqliteError(error: unknown): error is SqliteError {
  return error instanceof Error && typeof (error as SqliteError).code === 'string' && (error as SqliteError).code.startsWith('SQLITE_');
}

/** Maps SQLite failures on `file` to the store's error codes; everything else passes through. */
export function translateSqliteError(error: unknown, file: string): unknown {
  if (error instanceof RekeyError || !isSqliteError(error)) return error;
  const code = error.code;
  if (code === 'SQLITE_FULL' || (code === 'SQLITE_IOERR_WRITE' && /space|full/i.test(error.message))) {
    return new RekeyError(
      STORE_FULL,
      `the disk holding ${file} is full (${code}); nothing of this write was recorded. Free space on that disk: rekey carries on without a restart`,
      { file, code },
    );
  }
  if (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')) {
    return storeCorrupt(file, `${error.message} (${code})`);
  }
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new RekeyError(STORE_BUSY, `the event store ${file} stayed locked by another writer: ${error.message}`, { file, code });
  }
  if (code.startsWith('SQLITE_READONLY')) {
    return new RekeyError(STORE_READONLY, `the event store ${file} cannot be written: ${error.message}`, { file, code });
  }
  if (code.startsWith('SQLITE_CANTOPEN')) {
    return new RekeyError(STORE_NOT_FOUND, `the event store ${file} cannot be opened: ${error.message}`, { file, code });
  }
  return error;
}
