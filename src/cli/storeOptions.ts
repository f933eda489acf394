/**
 * Which store a command works on: the embedded SQLite file (./data/rekey.db, --db FILE or REKEY_DB)
 * by default; EventStoreDB with --eventstore esdb://... or REKEY_EVENTSTORE.
 */
import { existsSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import { RekeyError } from '../kernel/errors.js';
import type { EventStore } from '../store/port.js';
import { incompleteSimulation } from '../simulation/runMarkers.js';
import { openSqliteEventStore, type SqliteEventStore } from '../store/sqlite.js';
import { reportWarning } from './output.js';

export const DEFAULT_DB = './data/rekey.db';

export interface StoreOptions {
  db?: string;
  eventstore?: string;
}

export function withStoreOptions(command: Command): Command {
  return command
    .option('--db <file>', `embedded SQLite store (default: $REKEY_DB or ${DEFAULT_DB})`)
    .option('--eventstore <url>', 'EventStoreDB connection string, esdb://host:2113?tls=false (default: $REKEY_EVENTSTORE)');
}

export function dbFile(options: StoreOptions): string {
  return options.db ?? process.env.REKEY_DB ?? DEFAULT_DB;
}

/**
 * Opens the store; `mustExist` for commands that only read (a missing file is a mistyped path, not an empty
 * log; `hint` says how to make one). Those readers also say, on stderr, when the log holds a simulation that did not finish
 * (SIMULATION_INCOMPLETE), unless `warnIncomplete` is false (verify reports it as its result).
 */
export async function openStore(
  options: StoreOptions & { json?: boolean },
  mode: { mustExist: boolean; hint?: string; warnIncomplete?: boolean },
): Promise<EventStore & Partial<Pick<SqliteEventStore, 'verify'>>> {
  const store = await openStoreOnly(options, mode);
  if (mode.mustExist && mode.warnIncomplete !== false) {
    try {
      const incomplete = await incompleteSimulation(store);
      if (incomplete) reportWarning(incomplete, options.json === true);
    } catch (error) {
      await store.close();
      throw error;
    }
  }
  return store;
}

async function openStoreOnly(options: StoreOptions, mode: { mustExist: boolean; hint?: string }): Promise<EventStore & Partial<Pick<SqliteEventStore, 'verify'>>> {
  const url = options.eventstore ?? process.env.REKEY_EVENTSTORE;
  if (url) {
    // One rekey log per database (the `rekey-log` stream); fail now, with the address, if it cannot be reached.
    // Loaded on demand: the EventStoreDB client is half of the CLI's start-up time, and most runs use SQLite.
    const { openEventStoreDb } = await import('../store/eventstoredb.js');
    const store = openEventStoreDb({ connectionString: url });
    try {
      await store.headPosition();
    } catch (error) {
      await store.close();
      throw error;
    }
    return store;
  }
  const file = dbFile(options);
  if (existsSync(file) && statSync(file).isDirectory()) {
    throw new RekeyError('ARGUMENT_INVALID', `store file ${file} is a directory; pass --db with an event store file (or a new file name)`, { file }, 'validation');
  }
  if (mode.mustExist && !existsSync(file)) {
    throw new RekeyError('STORE_NOT_FOUND', `store file ${file} does not exist; ${mode.hint ?? `run 'rekey simulate SCENARIO.json --db ${file}' first`} or pass --db with an existing store`, { file }, 'not_found');
  }
  return openSqliteEventStore({ file });
}
