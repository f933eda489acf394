/**
 * How the read model fails: events it had applied are gone from the log (integrity), or its live
 * runner stopped for a reason that is not a store error (internal). Each message names the file.
 */
import { RekeyError, errorKind, isRekeyError } from '../../src/kernel/errors.js';
import { translateSqliteError } from '../../src/store/sqliteErrors.js';
import type { Checkpoint } from './file.js';

/** The log no longer holds events that the read model had applied: acknowledged events were lost. */
export const LOG_EVENTS_MISSING = errorKind('LOG_EVENTS_MISSING', 'integrity');
/** The live read model stopped following the log for a reason that is not a store error of its own. */
export const READ_MODEL_FAILED = errorKind('READ_MODEL_FAILED', 'internal');

/** The log no longer holds the events up to the file's checkpoint `committed` (it ends at `logEnd`, or holds another event there when null). */
export function eventsMissing(file: string, committed: Checkpoint, logEnd: number | null): RekeyError {
  const where = logEnd === null
    ? `holds another event at position ${committed.position}`
    : `ends at position ${logEnd}`;
  return new RekeyError(
    LOG_EVENTS_MISSING,
    `the read model ${file} holds the tables up to position ${committed.position} (event hash ${committed.hash}) of this log, ` +
      `but the event store now ${where}: events that were acknowledged are missing from the log (a lost -wal file, or a restored backup?). ` +
      'Nothing was changed. Run rekey verify to see what the log holds; rekey replay rebuilds the tables from the log as it is, if the loss is accepted',
    { file, checkpoint: committed.position, logEnd },
  );
}

/** A failure as the callers see it: store errors keep their code, anything else is READ_MODEL_FAILED naming the cause. */
export function asFailure(file: string, error: unknown): RekeyError {
  if (isRekeyError(error)) return error;
  const translated = translateSqliteError(error, file);
  if (isRekeyError(translated)) return translated;
  const message = error instanceof Error ? error.message || error.name : String(error);
  return new RekeyError(READ_MODEL_FAILED, `the read model ${file} stopped following the event store: ${message}`, { file });
}
