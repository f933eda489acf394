/**
 * Whether the disk under a SQLite store still has room for writes, for /health: a full disk is
 * reported before (and while) commands fail with STORE_FULL, and clears by itself once space is
 * freed. Stores that are not files (EventStoreDB, memory) have no disk of ours to watch.
 */
import { statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import { RekeyError } from '../kernel/errors.js';
import { STORE_FULL } from '../store/errors.js';
import type { EventStore } from '../store/port.js';

/** Below this much free space SQLite cannot be trusted to finish a commit (a WAL frame plus a page of each index). */
export const MIN_FREE_BYTES = 1024 * 1024;

export function diskFullError(store: EventStore): RekeyError | null {
  const file = (store as { file?: unknown }).file;
  if (store.kind !== 'sqlite' || typeof file !== 'string') return null;
  let free: number;
  try {
    const stats = statfsSync(dirname(file));
    free = stats.bavail * stats.bsize;
  } catch {
    return null; // no answer from the file system is no evidence of a full disk
  }
  if (free >= MIN_FREE_BYTES) return null;
  return new RekeyError(
    STORE_FULL,
    `the disk holding ${file} has ${free} bytes free, less than the ${MIN_FREE_BYTES} rekey needs to record commands; free space on it: rekey carries on without a restart`,
    { file, free },
  );
}
