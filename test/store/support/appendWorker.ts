/**
 * A second process appending to a shared SQLite store (run by sqlite.test.ts through
 * `node --import ./register.mjs appendWorker.ts <file> <worker id> <commands>`):
 * per command, 3 events to its own stream, and 1 event to a stream every worker contends for, with
 * optimistic retries on WrongExpectedRevisionError. Prints a JSON summary on stdout.
 */
import { WrongExpectedRevisionError } from '../../../src/store/errors.js';
import { openSqliteEventStore } from '../../../src/store/sqlite.js';

const [file, workerId, commandsText] = process.argv.slice(2);
if (!file || !workerId || !commandsText) throw new Error('usage: appendWorker.ts <file> <worker id> <commands>');
const commands = Number(commandsText);
const store = openSqliteEventStore({ file, busyTimeoutMs: 30_000 });
const meta = (n: number) => ({
  occurredAt: new Date(Date.UTC(2030, 0, 1) + n * 60_000).toISOString(),
  commandId: `${workerId}-${n}`,
  correlationId: `${workerId}`,
});

let conflicts = 0;
for (let n = 0; n < commands; n++) {
  const own = `worker-${workerId}`;
  await store.append(own, [0, 1, 2].map((k) => ({ type: 'Step', data: { workerId, n, k }, metadata: meta(n) })), n * 3 - 1);
  for (;;) {
    const current = (await store.readStream('shared')).length - 1;
    try {
      await store.append('shared', [{ type: 'Shared', data: { workerId, n }, metadata: meta(n) }], current);
      break;
    } catch (error) {
      if (!(error instanceof WrongExpectedRevisionError)) throw error;
      conflicts++;
    }
  }
  if (n % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
}
await store.close();
process.stdout.write(JSON.stringify({ workerId, commands, conflicts }) + '\n');
