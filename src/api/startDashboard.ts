/**
 * `npm start`: the dashboard on the embedded store. On an empty store it first loads the bundled
 * sample fleet (examples/sample-fleet.json: four machine groups, fifteen machines, a dozen years with
 * renewals made, missed and recovered) through the real simulator; on a store with data it just
 * serves it. Prints the URL.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pooledKeyPairSource } from '../crypto/index.js';
import { loadScenarioFile } from '../simulation/loader.js';
import { simulate } from '../simulation/simulator.js';
import { openSqliteEventStore } from '../store/sqlite.js';
import { createServer, DEFAULT_HOST, DEFAULT_PORT, type RekeyServer, type ServerOptions } from './server.js';

/** Where the sample fleet lives, found from this module upwards (works from src/ and from dist/). */
export const SAMPLE_FLEET_FILE = findUp(join('examples', 'sample-fleet.json'));

function findUp(relative: string): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, relative);
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  return resolve(relative);
}

export interface StartDashboardOptions {
  /** The embedded SQLite store (default ./data/rekey.db, or $REKEY_DB). */
  readonly db?: string;
  readonly host?: string;
  /** Default 8080, or $PORT. */
  readonly port?: number;
  /** The scenario loaded into an empty store (default: the sample fleet). */
  readonly scenario?: string;
  /** Where the URL and notices go (default: the URL on stdout, notices on stderr). */
  readonly print?: (line: string) => void;
  readonly notice?: (line: string) => void;
  readonly server?: Omit<ServerOptions, 'store' | 'host' | 'port'>;
}

export async function startDashboard(options: StartDashboardOptions = {}): Promise<RekeyServer & { readonly loadedSample: boolean }> {
  const file = options.db ?? process.env.REKEY_DB ?? './data/rekey.db';
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const notice = options.notice ?? ((line: string) => process.stderr.write(`${line}\n`));
  const store = openSqliteEventStore({ file });
  let loadedSample = false;
  try {
    if ((await store.headPosition()) === 0) {
      const scenarioFile = options.scenario ?? SAMPLE_FLEET_FILE;
      notice(`rekey: ${file} is empty: loading the sample fleet from ${scenarioFile} (once; it takes a moment)`);
      const scenario = loadScenarioFile(scenarioFile);
      const keys = pooledKeyPairSource({ size: 8 });
      const result = await simulate(scenario, { store, keys });
      notice(`rekey: simulated ${new Date(scenario.start).toISOString().slice(0, 10)} to ${new Date(scenario.end).toISOString().slice(0, 10)}: ${await store.headPosition()} events, ${result.rejected.length} refused actions`);
      loadedSample = true;
    }
    const envPort = process.env.PORT !== undefined && /^\d{1,5}$/.test(process.env.PORT) ? Number(process.env.PORT) : undefined;
    const server = await createServer({ ...options.server, store, host: options.host ?? DEFAULT_HOST, port: options.port ?? envPort ?? DEFAULT_PORT });
    print(`${server.url}/`);
    return {
      ...server,
      loadedSample,
      async close() {
        await server.close();
        await store.close();
      },
    };
  } catch (error) {
    await store.close();
    throw error;
  }
}
