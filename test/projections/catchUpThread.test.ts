/**
 * The catch-up's helper thread (projections/readModel/catchUpThread.ts): a read model caught up with
 * it holds exactly what one caught up on one thread holds (rows, checkpoint, every snapshot byte for
 * byte), its pages are the store's events, and when it fails (an unreadable event store, a full
 * disk under the read model) the catch-up fails with the store's error and nothing is lost: the file
 * stays at its checkpoint and the next catch-up completes it.
 */
import { mkdtempSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSyntheticLog } from '../../bench/projectionLog.js';
import { openReadModel, tablesAt, type ReadModel } from '../../projections/index.js';
import { startCatchUpThread } from '../../projections/readModel/catchUpThread.js';
import { RekeyError } from '../../src/kernel/errors.js';
import { openSqliteEventStore, type SqliteEventStore } from '../../src/store/sqlite.js';
import { fill, smallDisk, unmountSmallDisks } from '../reliability/support/smallDisk.js';

const EVENTS = 12_000;
/** Data a foreign tool might store: every kind of character JSON has to escape, and numbers of every size. */
const TRICKY = {
  text: 'quote " backslash \\ slash / tab \t newline \n nul \u0000 bell \u0007 é ☃ 🙂 \u2028 \u2029',
  numbers: [0, -0.5, 1e-7, 123456789012345, 2 ** 53 - 1, -1e300],
  nested: { empty: {}, list: [[], [null, true, false]], key_with_quote: { 'a"b': 'c' } },
};

let dir: string;
let eventsFile: string;
let store: SqliteEventStore;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rekey-catchup-thread-'));
  eventsFile = join(dir, 'rekey.db');
  await writeSyntheticLog({ file: eventsFile, events: EVENTS, groups: 12, machinesPerGroup: 5, connectionsPerGroup: 2 });
  const writer = openSqliteEventStore({ file: eventsFile });
  await writer.append('othertool-1', [{ type: 'ToolNote', data: TRICKY, metadata: { occurredAt: '2099-01-01T00:00:00.000Z', commandId: 'c-1', correlationId: 'c-1' } }], 'any');
  await writer.close();
  store = openSqliteEventStore({ file: eventsFile, readonly: true });
});

afterAll(async () => {
  await store?.close();
  unmountSmallDisks();
  rmSync(dir, { recursive: true, force: true });
});

/** Everything a read model file holds, as text: checkpoint, rows, and every snapshot byte for byte. */
function fileContents(file: string): string {
  const db = new Database(file, { readonly: true });
  try {
    return JSON.stringify({
      meta: db.prepare("SELECT key, value FROM rekey_read_meta WHERE key IN ('checkpoint', 'checkpoint_hash', 'instant', 'origin') ORDER BY key").all(),
      rows: db.prepare('SELECT tbl, id, name, deleted, row, heartbeat, streams, written FROM rekey_read_rows ORDER BY tbl, id').all(),
      snapshots: db.prepare('SELECT position, instant, hash, state FROM rekey_read_snapshots ORDER BY position').all(),
    });
  } finally {
    db.close();
  }
}

async function withModel<T>(name: string, threadFrom: number, use: (model: ReadModel, file: string) => Promise<T>): Promise<T> {
  const file = join(dir, `${name}.read.db`);
  const model = openReadModel({ store, file, snapshotEvery: 1_000, pageSize: 2_000, threadFrom });
  try {
    return await use(model, file);
  } finally {
    await model.close();
  }
}

describe('a catch-up on the helper thread', () => {
  it('leaves the same file as a catch-up on one thread: rows, checkpoint and every snapshot', async () => {
    const one = await withModel('one-thread', Infinity, async (model, file) => {
      await model.rebuild();
      return { contents: fileContents(file), tables: await tablesAt(model), snapshots: model.snapshotPositions() };
    });
    const helped = await withModel('helper-thread', 0, async (model, file) => {
      await model.rebuild();
      return { contents: fileContents(file), tables: await tablesAt(model), snapshots: model.snapshotPositions() };
    });
    expect(one.snapshots).toHaveLength(Math.floor(EVENTS / 1_000));
    expect(one.tables.tables.flowmachines.length).toBeGreaterThan(0);
    expect(helped.contents).toBe(one.contents);
    expect(helped.tables).toEqual(one.tables);
  });

  it('stops where --until says, as one thread does', async () => {
    const [first] = await store.readAll(1, 1);
    const until = Date.parse(first!.metadata.occurredAt) + 20 * 86_400_000;
    const one = await withModel('until-one', Infinity, async (model) => model.catchUp({ until }));
    const helped = await withModel('until-helped', 0, async (model) => model.catchUp({ until }));
    expect(one.position).toBeGreaterThan(0);
    expect(one.position).toBeLessThan(EVENTS);
    expect(helped).toEqual(one);
  });

  it('hands over the store\'s own events, page by page, metadata reduced to occurredAt', async () => {
    const head = await store.headPosition();
    const thread = startCatchUpThread({ eventsFile, readModelFile: join(dir, 'unused.read.db'), from: 1, pageSize: 999 });
    const read = [];
    try {
      expect(thread.pageSize).toBe(999);
      for (;;) {
        const page = await thread.nextPage();
        read.push(...page);
        if (page.length < 999) break;
      }
    } finally {
      await thread.close();
    }
    const stored = (await store.readAll(1, head + 1)).map(({ metadata, ...rest }) => ({ ...rest, metadata: { occurredAt: metadata.occurredAt } }));
    expect(read).toHaveLength(head);
    expect(read).toEqual(stored);
    expect(read[head - 1]!.data).toEqual(TRICKY);
  });
});

describe('when the helper thread fails', () => {
  it('an event store it cannot read fails the catch-up with STORE_CORRUPT, and the next catch-up completes', async () => {
    const reference = await withModel('reference', Infinity, async (model, file) => {
      await model.rebuild();
      return fileContents(file);
    });
    await withModel('unreadable', 0, async (model, file) => {
      const kept = `${eventsFile}.kept`;
      renameSync(eventsFile, kept); // the open store keeps reading the file it opened; the helper opens the path
      writeFileSync(eventsFile, Buffer.alloc(8_192, 0x41));
      let failure: unknown;
      try {
        await model.catchUp();
      } catch (error) {
        failure = error;
      } finally {
        unlinkSync(eventsFile);
        renameSync(kept, eventsFile);
      }
      expect(failure).toBeInstanceOf(RekeyError);
      expect((failure as RekeyError).code).toBe('STORE_CORRUPT');
      expect((failure as RekeyError).message).toContain(eventsFile);
      expect(model.checkpoint().position).toBe(0);
      await model.catchUp();
      expect(fileContents(file)).toBe(reference);
    });
  });

  const small = smallDisk(mkdtempSync(join(tmpdir(), 'rekey-catchup-disk-')), '6m');
  it.skipIf('skip' in small)(`a snapshot it cannot store (full disk) fails the catch-up with STORE_FULL, and nothing is lost${'skip' in small ? ` (skipped: ${small.skip})` : ''}`, async () => {
    if ('skip' in small) return;
    const file = join(small.dir, 'full.read.db');
    const model = openReadModel({ store, file, snapshotEvery: 1_000, pageSize: 2_000, threadFrom: 0 });
    const filler = join(small.dir, 'filler');
    try {
      fill(filler);
      const failure = await model.catchUp().catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(RekeyError);
      expect((failure as RekeyError).code).toBe('STORE_FULL');
      expect((failure as RekeyError).message).toContain(file);
      const onDisk = new Database(file, { readonly: true });
      expect(onDisk.prepare("SELECT value FROM rekey_read_meta WHERE key = 'checkpoint'").pluck().get()).toBe('0');
      onDisk.close(); // an open file would keep the tmpfs from being unmounted
      unlinkSync(filler);
      const checkpoint = await model.catchUp();
      expect(checkpoint.position).toBe(await store.headPosition());
      expect(model.snapshotPositions()).toHaveLength(Math.floor(EVENTS / 1_000));
    } finally {
      await model.close();
    }
  });

  it('refuses a threadFrom that is not a number of events', () => {
    expect(() => openReadModel({ store, file: ':memory:', threadFrom: Number.NaN })).toThrow('threadFrom must be a number of events >= 0 (or Infinity), got NaN');
    expect(() => openReadModel({ store, file: ':memory:', threadFrom: -1 })).toThrow('got -1');
  });
});
