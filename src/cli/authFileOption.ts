/**
 * Which auth file (the accepted tokens' hashes) `rekey serve` and `rekey token` use: `--auth-file FILE`
 * or REKEY_AUTH_FILE, else `<db>.auth.json` beside the embedded store. An EventStoreDB store has no
 * file to sit beside, so it needs one of the two.
 */
import type { Command } from 'commander';
import { defaultAuthFile } from '../api/server.js';
import { RekeyError } from '../kernel/errors.js';
import { DEFAULT_DB, type StoreOptions } from './storeOptions.js';

export interface AuthFileOptions extends StoreOptions {
  authFile?: string;
}

export function withAuthFileOption(command: Command): Command {
  return command.option('--auth-file <file>', 'the tokens\' hashes (default: $REKEY_AUTH_FILE, or <db>.auth.json beside the --db store)');
}

/** The auth file to use; undefined only when neither an option nor a store file names one and `required` is false. */
export function authFileOf(options: AuthFileOptions, required: boolean): string | undefined {
  const named = options.authFile ?? (process.env.REKEY_AUTH_FILE || undefined);
  if (named !== undefined) return named;
  if (options.eventstore ?? (process.env.REKEY_EVENTSTORE || undefined)) {
    if (!required) return undefined;
    throw new RekeyError('ARGUMENT_INVALID', 'with --eventstore there is no store file to keep the tokens beside; pass --auth-file FILE (or set REKEY_AUTH_FILE), the same for every server of that store', {}, 'validation');
  }
  return defaultAuthFile(options.db ?? (process.env.REKEY_DB || undefined) ?? DEFAULT_DB);
}
