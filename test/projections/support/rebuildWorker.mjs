/**
 * A read model runner in its own process, for the crash test:
 * `node rebuildWorker.mjs <events db> <read db> <mode>`, running the built code in dist/.
 * - `rebuild`: rebuilds from position 0, slowly (a pause after every page), printing its progress.
 * - `resume`: catches up from wherever the file is, printing its progress.
 * - `steps`: catches up ten days of log time at a time, each step committing rows and checkpoint.
 * Every line on stdout is one JSON object; the parent kills this process with SIGKILL mid-way.
 */
import { openReadModel } from '../../../dist/projections/index.js';
import { openSqliteEventStore } from '../../../dist/src/store/sqlite.js';

const [eventsFile, readFile, mode] = process.argv.slice(2);
if (!eventsFile || !readFile || !mode) throw new Error('usage: rebuildWorker.mjs <events db> <read db> rebuild|resume|steps');
const store = openSqliteEventStore({ file: eventsFile, readonly: true });
const model = openReadModel({ store, file: readFile, snapshotEvery: 3_000, pageSize: 500 });
const say = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);
const onProgress = async (progress) => {
  say({ kind: 'progress', position: progress.position, applied: progress.applied, head: progress.head });
  await new Promise((resolve) => setTimeout(resolve, 4));
};

if (mode === 'rebuild') {
  await model.rebuild({ onProgress });
} else if (mode === 'resume') {
  await model.catchUp({ onProgress });
} else {
  const [first] = await store.readAll(1, 1);
  let until = Date.parse(first.metadata.occurredAt);
  for (;;) {
    until += 10 * 86_400_000;
    const checkpoint = await model.catchUp({ until });
    say({ kind: 'committed', position: checkpoint.position });
    if (checkpoint.position >= (await store.headPosition())) break;
    await new Promise((resolve) => setTimeout(resolve, 4));
  }
}
say({ kind: 'done', position: model.checkpoint().position });
await model.close();
await store.close();
