/**
 * Options of the admin commands (group, machine, connection, explain, plan): which store or service
 * they work on, the token for a service, and --dry-run. `--server URL` sends them to a running
 * `rekey serve` with `Authorization: Bearer <token>` from `--token-file FILE` or $REKEY_TOKEN; without
 * it they open the store themselves (--db FILE, $REKEY_DB, --eventstore URL, $REKEY_EVENTSTORE).
 */
import { existsSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { localTarget } from '../admin/localTarget.js';
import { remoteTarget } from '../admin/remoteTarget.js';
import type { AdminTarget } from '../admin/target.js';
import { RekeyError } from '../kernel/errors.js';
import { createInMemoryEventStore } from '../store/memory.js';
import { dbFile, openStore, withStoreOptions, type StoreOptions } from './storeOptions.js';

export interface TargetOptions extends StoreOptions {
  server?: string;
  tokenFile?: string;
  json?: boolean;
}

export interface ChangeOptions extends TargetOptions {
  dryRun?: boolean;
  forecast?: boolean;
}

export function withTargetOptions(command: Command): Command {
  return withStoreOptions(command)
    .option('--server <url>', 'a running rekey serve to send the command to, e.g. http://127.0.0.1:8080 (instead of opening the store)')
    .option('--token-file <file>', 'with --server: a file holding the API token, sent as Authorization: Bearer (default: $REKEY_TOKEN)')
    .option('--json', 'print the result as JSON (errors as {"error": {"code", "message"}} on stderr)');
}

export function withChangeOptions(command: Command): Command {
  return withTargetOptions(command)
    .option('--dry-run', 'decide on a copy of the state and print the events it would append, the rows it would change and the forecast before and after; write nothing')
    .option('--no-forecast', 'with --dry-run: skip the forecast of the next renewal windows (faster)');
}

function tokenOf(options: TargetOptions): string | undefined {
  if (options.tokenFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(options.tokenFile, 'utf8');
    } catch (error) {
      throw new RekeyError('ARGUMENT_INVALID', `--token-file ${options.tokenFile} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'}); expected a file holding the API token`, { file: options.tokenFile }, 'validation');
    }
    const token = text.trim();
    if (token === '' || /\s/.test(token)) throw new RekeyError('ARGUMENT_INVALID', `--token-file ${options.tokenFile} does not hold one token (it is empty or has spaces inside); expected the token alone`, { file: options.tokenFile }, 'validation');
    return token;
  }
  const env = process.env.REKEY_TOKEN;
  return env === undefined || env.trim() === '' ? undefined : env.trim();
}

/** The store or service the command works on; `create` lets `group create` start a new store file. */
export function openTarget(options: TargetOptions, mode: { create?: boolean } = {}): AdminTarget {
  if (options.server !== undefined) {
    if (options.db !== undefined || options.eventstore !== undefined) {
      throw new RekeyError('USAGE', 'give --server (a running rekey serve) or --db/--eventstore (a store), not both', {}, 'validation');
    }
    if (mode.create) throw new RekeyError('USAGE', '--create starts a new store file; it does not go with --server', {}, 'validation');
    return remoteTarget({ server: options.server, token: tokenOf(options) });
  }
  if (options.tokenFile !== undefined) throw new RekeyError('USAGE', '--token-file goes with --server; a store opened directly takes no token', {}, 'validation');
  const url = options.eventstore ?? (process.env.REKEY_EVENTSTORE || undefined);
  const description = url ? url.replace(/\/\/[^@/]*@/, '//***@') : dbFile(options);
  return localTarget(async ({ readOnly }) => {
    // A dry run of `group create --create` on a file not there yet works on an empty log, and creates no file.
    if (readOnly && mode.create && !url && !existsSync(dbFile(options))) return createInMemoryEventStore();
    return openStore(options, { mustExist: !mode.create, hint: 'run \'rekey group create NAME --create\' to start a new store there' });
  }, description);
}
