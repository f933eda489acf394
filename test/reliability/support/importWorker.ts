/**
 * `rekey import`'s work as a process, for atomicImport.test.ts, which kills it with SIGKILL at
 * points spread over the import: the same two calls as the CLI command (`readFleet`, then
 * `importFleet` on a SQLite store), from the built code in dist/, without the CLI's start-up, so
 * that every kill lands in the import itself. Prints `{"kind":"start"}` once its modules are loaded
 * and `{"kind":"done"}` after the store is closed.
 *
 * Usage: node importWorker.js '{"files": [...], "db": "...", "asOf": "ISO"}' with REKEY_ROOT set.
 */
const root = process.env.REKEY_ROOT;
if (!root) throw new Error('REKEY_ROOT is not set');
const dist = (path: string) => import(`${root}/dist/${path}`);
const { readFleet, importFleet } = (await dist('src/fleet/importer.js')) as typeof import('../../../src/fleet/importer.js');
const { openSqliteEventStore } = (await dist('src/store/sqlite.js')) as typeof import('../../../src/store/sqlite.js');

const config = JSON.parse(process.argv[2]!) as { files: string[]; db: string; asOf: string };
process.stdout.write('{"kind":"start"}\n');
const fleet = readFleet(config.files, { asOf: Date.parse(config.asOf) });
const store = openSqliteEventStore({ file: config.db });
await importFleet(store, fleet);
await store.close();
process.stdout.write('{"kind":"done"}\n');
