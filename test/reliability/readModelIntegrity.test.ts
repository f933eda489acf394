/**
 * The read model against the log (issue 18), with the built binary on a simulated store:
 * - `rekey verify` compares the read model file (`<db>.read.db`) with a replay of the log: an intact
 *   one verifies (exit 0, `readModel` in --json), and a row edited, deleted or added behind rekey's
 *   back, a wrong checkpoint instant or a forged snapshot is a failed check (exit 1, reason
 *   `read-model`) that names the row and the column. Before, verify never looked at the file and
 *   forged rows were served as truth.
 * - A lost `-wal` file: `rekey serve` acknowledged commands, was killed, and the store's `-wal` (the
 *   only place those commands were) was deleted. The read model had applied them, so the loss is
 *   found: `rekey verify` fails with reason `missing`, and `rekey query` and `rekey serve` refuse with
 *   LOG_EVENTS_MISSING instead of silently serving the older log. `rekey replay` accepts the log as
 *   it is, after which everything reads again. Before, the commands were dropped silently.
 */
import { copyFileSync, existsSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openReadModel } from '../../projections/index.js';
import { checkReadModel } from '../../projections/readModelCheck.js';
import { openSqliteEventStore } from '../../src/store/sqlite.js';
import { REPO_ROOT, runCli } from './support/processes.js';
import { removeScratchDirs, scratchDir } from './support/scratch.js';
import { post, startServe } from './support/servers.js';

afterAll(removeScratchDirs);

let dir = '';
let base = '';
let events = 0;

beforeAll(async () => {
  dir = scratchDir('read-model');
  base = join(dir, 'base.db');
  const run = await runCli(['simulate', join(REPO_ROOT, 'examples/branch-office-offline.json'), '--db', base, '--json']);
  expect(run.status, run.stderr).toBe(0);
  events = (JSON.parse(run.stdout) as { events: number }).events;
}, 120_000);

/** A copy of the simulated store (its read model not included). */
function copy(name: string): string {
  const file = join(dir, name);
  copyFileSync(base, file);
  return file;
}

const verify = async (db: string) => {
  const run = await runCli(['verify', '--db', db, '--json']);
  return { status: run.status, result: JSON.parse(run.stdout) as Record<string, unknown> };
};

describe('rekey verify checks the read model against the log', () => {
  it('an intact read model verifies; an edited, deleted or added row, or a wrong instant, is reported with the row and column', async () => {
    const db = copy('forged.db');
    expect((await runCli(['query', 'flowmachinegroups', '--db', db])).status).toBe(0); // builds db.read.db
    const intact = await verify(db);
    expect(intact).toMatchObject({ status: 0, result: { ok: true, checked: events, readModel: { position: events, snapshots: 0 } } });
    expect((intact.result.readModel as { rows: number }).rows).toBeGreaterThan(3);

    const file = `${db}.read.db`;
    const forge = async (sql: string, undo: string) => {
      const raw = new Database(file);
      raw.exec(sql);
      raw.close();
      const outcome = await verify(db);
      const again = new Database(file);
      again.exec(undo);
      again.close();
      return outcome;
    };
    const group = (() => {
      const raw = new Database(file, { readonly: true });
      const row = raw.prepare<[], { id: string; row: string }>("SELECT id, row FROM rekey_read_rows WHERE tbl = 'flowmachinegroups'").get()!;
      raw.close();
      return row;
    })();
    const validity = (JSON.parse(group.row) as { keyvalidityperiod: number }).keyvalidityperiod;

    const edited = await forge(
      `UPDATE rekey_read_rows SET row = json_set(row, '$.keyvalidityperiod', 999) WHERE tbl = 'flowmachinegroups' AND id = '${group.id}'`,
      `UPDATE rekey_read_rows SET row = json_set(row, '$.keyvalidityperiod', ${validity}) WHERE tbl = 'flowmachinegroups' AND id = '${group.id}'`,
    );
    expect(edited).toMatchObject({ status: 1, result: { ok: false, reason: 'read-model', position: events, checked: events } });
    expect(edited.result.message).toContain(`flowmachinegroups row ${group.id} (Branch-Lyon) has keyvalidityperiod 999 in the file, ${validity} in a replay of the log to position ${events}`);

    const deleted = await forge("DELETE FROM rekey_read_rows WHERE tbl = 'flowmachines' AND id = (SELECT id FROM rekey_read_rows WHERE tbl = 'flowmachines' LIMIT 1)", 'SELECT 1');
    expect(deleted.result).toMatchObject({ ok: false, reason: 'read-model' });
    expect(deleted.result.message).toMatch(/flowmachines row \S+ \(\S+\) is missing from the file; it is in a replay/);
    rmSync(file, { force: true }); // rebuilt by the next reader
    rmSync(`${file}-wal`, { force: true });
    rmSync(`${file}-shm`, { force: true });
    expect((await runCli(['query', 'flowmachines', '--db', db])).status).toBe(0);

    const added = await forge(
      "INSERT INTO rekey_read_rows (tbl, id, name, deleted, row, heartbeat, streams, written) VALUES ('flowmachines', 'ghost', 'GHOST-01', 0, '{}', NULL, '[]', 1)",
      "DELETE FROM rekey_read_rows WHERE id = 'ghost'",
    );
    expect(added.result).toMatchObject({ ok: false, reason: 'read-model' });
    expect(added.result.message).toContain('flowmachines row ghost (GHOST-01) is not in a replay of the log');

    const instant = await forge("UPDATE rekey_read_meta SET value = '0' WHERE key = 'instant'", 'SELECT 1');
    expect(instant.result).toMatchObject({ ok: false, reason: 'read-model' });
    expect(instant.result.message).toContain('says its tables are as of instant 0');
  }, 120_000);

  it('a forged snapshot (the start of every as-of read) is reported with its position', async () => {
    const db = copy('snapshots.db');
    const store = openSqliteEventStore({ file: db });
    const file = join(dir, 'snapshots.read.db');
    try {
      const model = openReadModel({ store, file, snapshotEvery: 50 });
      await model.catchUp();
      expect(model.snapshotPositions().length).toBeGreaterThan(2);
      await model.close();
      expect(await checkReadModel(store, file)).toMatchObject({ status: 'ok', position: events, snapshots: Math.floor(events / 50) });
      const raw = new Database(file);
      // The first group's state in the snapshot at 100 says it was renamed.
      // (group states are packed: the keys once, then one row of values per group)
      const path = raw.prepare<[], string>("SELECT '$.groups.states.rows[0][' || (key) || ']' FROM rekey_read_snapshots, json_each(state, '$.groups.states.keys') WHERE position = 100 AND value = 'name'").pluck().get();
      expect(path).toBeDefined();
      raw.prepare(`UPDATE rekey_read_snapshots SET state = json_set(state, '${path!}', 'Forged') WHERE position = 100`).run();
      raw.close();
      expect(await checkReadModel(store, file)).toEqual({
        status: 'forged',
        position: 100,
        message: `the read model ${file} holds a snapshot at position 100 that differs from a replay of the log to that position (as-of reads start from it)`,
      });
    } finally {
      await store.close();
    }
  });
});

describe('a lost -wal file with acknowledged commands', () => {
  it('is found by verify, query and serve (LOG_EVENTS_MISSING) instead of being dropped silently; replay accepts the loss', async () => {
    const db = copy('wal.db');
    const server = await startServe(['--db', db]);
    const acknowledged: number[] = [];
    try {
      for (const enabled of [true, false, true, false]) {
        const answer = await post(server.url, 'setProactiveReencryption', { group: 'Branch-Lyon', enabled });
        expect(answer.status, JSON.stringify(answer.body)).toBe(200);
        acknowledged.push(...(answer.body.events ?? []).map((event) => event.position));
      }
    } finally {
      server.child.kill('SIGKILL'); // no clean close: the commands are only in the -wal file
      await server.stop();
    }
    expect(acknowledged.length).toBeGreaterThanOrEqual(4);
    expect(statSync(`${db}-wal`).size).toBeGreaterThan(0);
    rmSync(`${db}-wal`);
    rmSync(`${db}-shm`, { force: true });
    const lastAcknowledged = Math.max(...acknowledged);

    const verified = await verify(db);
    expect(verified).toMatchObject({ status: 1, result: { ok: false, reason: 'missing', checked: events } });
    expect(verified.result.message).toContain(`up to position ${lastAcknowledged}, but the log ends at position ${events}`);

    const query = await runCli(['query', 'flowmachinegroups', '--db', db]);
    expect(query.status).toBe(1);
    expect(query.stderr).toMatch(new RegExp(`^rekey: LOG_EVENTS_MISSING: the read model \\S+ holds the tables up to position ${lastAcknowledged} .* the event store now ends at position ${events}: events that were acknowledged are missing`));

    await expect(startServe(['--db', db])).rejects.toThrow(/LOG_EVENTS_MISSING/);

    const replay = await runCli(['replay', '--db', db]);
    expect(replay.status, replay.stderr).toBe(0);
    expect((await runCli(['query', 'flowmachinegroups', '--db', db])).status).toBe(0);
    expect((await verify(db)).status).toBe(0);
    expect(existsSync(`${db}.read.db`)).toBe(true);
  }, 120_000);
});
