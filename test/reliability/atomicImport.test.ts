/**
 * `rekey import` is one atomic write (issue 18): an import of 300 machine groups, each with a
 * member, runs in a process of its own (support/importWorker.ts: the CLI command's two calls, from
 * the built code) and is sent SIGKILL at 52 points spread over the import (reading the files,
 * working out the fleet, writing it; runs that end before their kill are not counted, and more are
 * run until 52 kills landed). After every kill the store holds either nothing of the import
 * (and the built `rekey import` then imports into it) or all of it: the import record, every group
 * and every machine, a hash chain that verifies and tables that show the whole fleet. Before, 20 of
 * 55 kills left a partial fleet under an import record that claimed every group.
 *
 * The export is written by bench/exportFleet.ts, row by row, in the Dataverse Web API's shape
 * (`{"value": [...]}` with the columns of Microsoft's flowmachinegroup and flowmachine tables), not
 * by rekey.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeFleetExport } from '../../bench/exportFleet.js';
import { tablesAt } from '../../projections/index.js';
import { openSqliteEventStore } from '../../src/store/sqlite.js';
import { mulberry32 } from '../../src/kernel/random.js';
import { pool, runCli, startWorker } from './support/processes.js';
import { removeScratchDirs, scratchDir } from './support/scratch.js';

const GROUPS = Number(process.env.REKEY_IMPORT_GROUPS ?? 300);
const KILLS = Number(process.env.REKEY_IMPORT_KILLS ?? 52);

afterAll(removeScratchDirs);

const AS_OF = '2030-06-01T00:00:00Z';

/** Runs the import and kills it `afterMs` after it started importing (or lets it finish when it is quicker). */
async function importKilledAfter(files: readonly string[], db: string, afterMs: number): Promise<{ killed: boolean; ms: number }> {
  let started = 0;
  let timer: NodeJS.Timeout | undefined;
  let done = 0;
  const worker = startWorker('importWorker', { files, db, asOf: AS_OF }, (line) => {
    const kind = (line as { kind: string }).kind;
    if (kind === 'start') {
      started = performance.now();
      timer = setTimeout(() => worker.child.kill('SIGKILL'), afterMs);
    } else if (kind === 'done') done = performance.now();
  });
  const exit = await worker.exited;
  clearTimeout(timer);
  if (exit.signal !== 'SIGKILL' && exit.code !== 0) throw new Error(`the import worker failed: ${exit.stderr}`);
  return { killed: exit.signal === 'SIGKILL', ms: done - started };
}

/** What a store holds after an import run: 'nothing', 'everything', or what is wrong. */
async function outcome(db: string, expectedEvents: number): Promise<'nothing' | 'everything' | string> {
  if (!existsSync(db)) return 'nothing';
  // Opened as rekey's readers open it (read-write): the first open after a kill recovers the -wal file.
  const store = openSqliteEventStore({ file: db });
  try {
    const head = await store.headPosition();
    if (head === 0) return 'nothing';
    if (head !== expectedEvents) return `partial: ${head} of ${expectedEvents} events`;
    const verified = await store.verify();
    if (!verified.ok) return `chain broken: ${verified.message}`;
    const { tables } = await tablesAt(store);
    if (tables.flowmachinegroups.length !== GROUPS || tables.flowmachines.length !== GROUPS) {
      return `tables show ${tables.flowmachinegroups.length} groups and ${tables.flowmachines.length} machines`;
    }
    return 'everything';
  } finally {
    await store.close();
  }
}

describe('rekey import killed at any point', () => {
  it(`leaves nothing or everything, at each of ${KILLS} SIGKILLs`, async () => {
    const dir = scratchDir('import');
    const files = writeFleetExport(dir, GROUPS);

    // The whole import, twice side by side (as the kills run): how long it takes and what it writes.
    const measured = await Promise.all([0, 1].map(async (i) => {
      const run = await importKilledAfter(files, join(dir, `full-${i}.db`), 600_000);
      expect(run.killed).toBe(false);
      return run.ms;
    }));
    const fullMs = Math.max(...measured);
    const store = openSqliteEventStore({ file: join(dir, 'full-0.db'), readonly: true });
    const expectedEvents = await store.headPosition();
    await store.close();
    expect(expectedEvents).toBe(1 + 2 * GROUPS); // the import record, then each group and its member
    expect(await outcome(join(dir, 'full-0.db'), expectedEvents)).toBe('everything');

    // Kill points spread over the import, from its start to near its usual end, two at a time,
    // until KILLS of them landed (an import that ran faster than usual finished first).
    const random = mulberry32(2718);
    const outcomes: { i: number; afterMs: number; killed: boolean; result: string }[] = [];
    for (let round = 0; outcomes.filter((o) => o.killed).length < KILLS && round < 5; round++) {
      const missing = KILLS - outcomes.filter((o) => o.killed).length;
      const first = outcomes.length;
      outcomes.push(...await pool(Array.from({ length: missing }, (_, k) => async () => {
        const i = first + k;
        const db = join(dir, `kill-${i}.db`);
        const afterMs = Math.round((fullMs * 0.9 * (k + random())) / missing);
        const run = await importKilledAfter(files, db, afterMs);
        return { i, afterMs, killed: run.killed, result: await outcome(db, expectedEvents) };
      }), 2));
    }

    const wrong = outcomes.filter((o) => o.result !== 'nothing' && o.result !== 'everything');
    expect(wrong).toEqual([]);
    const killed = outcomes.filter((o) => o.killed);
    const counts = { kills: killed.length, nothing: killed.filter((o) => o.result === 'nothing').length, everything: killed.filter((o) => o.result === 'everything').length };
    console.log(`import kills: ${JSON.stringify({ ...counts, importMs: Math.round(fullMs), events: expectedEvents })}`);
    expect(counts.kills).toBeGreaterThanOrEqual(KILLS);
    expect(counts.nothing).toBeGreaterThan(0);

    // A store the import left empty takes the import again, to the end.
    const empty = outcomes.find((o) => o.killed && o.result === 'nothing' && existsSync(join(dir, `kill-${o.i}.db`)));
    if (empty) {
      const again = await runCli(['import', ...files, '--as-of', AS_OF, '--db', join(dir, `kill-${empty.i}.db`)]);
      expect(again.status, again.stderr).toBe(0);
      expect(await outcome(join(dir, `kill-${empty.i}.db`), expectedEvents)).toBe('everything');
    }
  }, 300_000);
});
