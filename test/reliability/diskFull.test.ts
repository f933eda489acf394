/**
 * A full disk, for real (issue 18): the store and its read model live on a small tmpfs mounted for
 * this test (it needs root, as CI runs; elsewhere it is reported as skipped, with the reason). A
 * `rekey serve` records commands, then a filler file takes every free byte, then space is freed.
 * - While the disk is full every command answers 507 STORE_FULL, in Dataverse's error shape, with a
 *   message that says nothing was recorded; each is one line on the server's stderr; /health answers
 *   503 STORE_FULL; `rekey simulate` into the same disk exits 1 with `rekey: STORE_FULL: ...`.
 * - Nothing acknowledged is lost and nothing refused was recorded: the server is killed with SIGKILL
 *   at the end, and the log holds every command answered 200 exactly once, none of the refused ones
 *   except through their retry.
 * - Once space is freed the same server (no restart) records the refused commands on retry (same
 *   command ids) and new ones, /health is 200 again, and its tables equal a replay of the log.
 * Before, disk-full answered 500 INTERNAL and the server stayed broken until restarted.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tablesAt } from '../../projections/index.js';
import { openSqliteEventStore } from '../../src/store/sqlite.js';
import { readWholeLog } from '../../src/store/logPages.js';
import { readModelProblems, shapeProblems } from './support/logChecks.js';
import { REPO_ROOT, runCli } from './support/processes.js';
import { removeScratchDirs, scratchDir } from './support/scratch.js';
import { fill, smallDisk, unmountSmallDisks } from './support/smallDisk.js';
import { getJson, post, startServe, type Answer } from './support/servers.js';

afterAll(() => {
  unmountSmallDisks();
  removeScratchDirs();
});

const disk = smallDisk(join(scratchDir('disk-full'), 'disk'), '8m');

describe('a full disk under the store, then freed', () => {
  it.skipIf('skip' in disk)(`answers STORE_FULL, loses and invents nothing, and recovers without a restart${'skip' in disk ? ` (SKIPPED: ${disk.skip})` : ''}`, async () => {
    const { dir } = disk as { dir: string };
    const db = join(dir, 'rekey.db');
    const server = await startServe(['--db', db, '--create']);
    const answers: { commandId: string; answer: Answer; phase: 'before' | 'full' | 'freed' }[] = [];
    const create = async (i: number, phase: 'before' | 'full' | 'freed') => {
      const commandId = `create-${i}`;
      const answer = await post(server.url, 'createGroup', { name: `Group-${i}`, commandId });
      answers.push({ commandId, answer, phase });
      return answer;
    };
    try {
      for (let i = 0; i < 5; i++) expect((await create(i, 'before')).status).toBe(200);

      fill(join(dir, 'filler'));
      const refused = [];
      for (let i = 5; i < 10; i++) refused.push(await create(i, 'full'));
      for (const answer of refused) {
        expect(answer.status).toBe(507);
        expect(answer.body).toEqual({ error: { code: 'STORE_FULL', message: expect.stringContaining('is full (SQLITE_FULL); nothing of this write was recorded') } });
      }
      expect(server.stderr().match(/^rekey serve: 507 STORE_FULL POST \/api\/commands\/createGroup: /gm)).toHaveLength(5);
      const health = await getJson(server.url, '/health');
      expect(health.status).toBe(503);
      expect(health.body).toMatchObject({ status: 'failing', error: { code: 'STORE_FULL' } });
      const cli = await runCli(['simulate', join(REPO_ROOT, 'examples/empty-group.json'), '--db', join(dir, 'other.db')]);
      expect(cli.status).toBe(1);
      expect(cli.stderr).toMatch(/^rekey: STORE_FULL: the disk holding \S+other\.db is full/);

      rmSync(join(dir, 'filler'));
      rmSync(join(dir, 'other.db'), { force: true });
      for (let i = 5; i < 10; i++) {
        const retried = await create(i, 'freed');
        expect(retried.status, JSON.stringify(retried.body)).toBe(200);
        expect(retried.body.events).toHaveLength(1); // recorded now, so it was not before
      }
      for (let i = 10; i < 13; i++) expect((await create(i, 'freed')).status).toBe(200);
      expect((await getJson(server.url, '/health')).body).toMatchObject({ status: 'ok' });
      const served = await getJson(server.url, '/api/data/v9.2/flowmachinegroups', { prefer: 'odata.include-annotations="*"' });
      expect((served.body.value as unknown[]).length).toBe(13);

      server.child.kill('SIGKILL'); // whatever was acknowledged must survive a crash
      await server.stop();
      const store = openSqliteEventStore({ file: db });
      try {
        const events = await readWholeLog(store);
        expect(shapeProblems(events)).toEqual([]);
        const recorded = events.map((event) => event.metadata.commandId);
        for (const { commandId, answer } of answers.filter((a) => a.answer.status === 200 && (a.answer.body.events ?? []).length > 0)) {
          expect(recorded.filter((id) => id === commandId), commandId).toHaveLength(1);
        }
        expect(recorded.filter((id) => id.startsWith('create-'))).toHaveLength(13);
        expect(served.body.value).toEqual((await tablesAt(store)).tables.flowmachinegroups);
        expect((await readModelProblems(store, `${db}.read.db`)).problems).toEqual([]);
      } finally {
        await store.close();
      }
    } finally {
      await server.stop();
    }
  }, 120_000);
});
