import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, truncateSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { isRekeyError, type RekeyError } from '../../src/kernel/errors.js';
import { createInMemoryEventStore } from '../../src/store/memory.js';
import type { NewEvent } from '../../src/store/port.js';
import { openSqliteEventStore, SQLITE_SCHEMA_VERSION, type SqliteEventStore } from '../../src/store/sqlite.js';
import { ev, range, record, runEventStoreContract, sleep } from './contract.js';

const root = mkdtempSync(join(tmpdir(), 'rekey-sqlite-store-'));
let fileCounter = 0;
const newFile = (name = 'events') => join(root, `${name}-${++fileCounter}.db`);
const removeDb = (file: string) => {
  for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
};

afterAll(() => rmSync(root, { recursive: true, force: true }));

runEventStoreContract(
  'sqlite',
  async () => openSqliteEventStore({ file: newFile(), pollIntervalMs: 20 }),
  async (store) => removeDb((store as SqliteEventStore).file),
);

function expectCode(fn: () => unknown, code: string): RekeyError {
  try {
    fn();
  } catch (error) {
    expect(isRekeyError(error, code), `expected ${code}, got ${String(error)}`).toBe(true);
    return error as RekeyError;
  }
  throw new Error(`expected ${code}, but the call succeeded`);
}

describe('SQLite event store', () => {
  const stores: SqliteEventStore[] = [];
  const open = (file: string, options: Partial<Parameters<typeof openSqliteEventStore>[0]> = {}) => {
    const store = openSqliteEventStore({ file, pollIntervalMs: 20, ...options });
    stores.push(store);
    return store;
  };
  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close();
  });

  it('keeps events across close and reopen, and continues the chain', async () => {
    const file = newFile();
    const first = open(file);
    await first.append('s', [ev('A', { n: 1 }), ev('B', { n: 2 })], -1);
    const before = await first.readAll();
    await first.close();
    const second = open(file);
    expect(await second.readAll()).toEqual(before);
    expect(await second.append('s', [ev('C')], 1)).toEqual({ lastRevision: 2, lastPosition: 3 });
    expect(await second.verify()).toMatchObject({ ok: true, checked: 3 });
  });

  it('creates missing parent directories, uses WAL and records its schema version', async () => {
    const file = join(root, 'deep', 'er', 'events.db');
    const store = open(file);
    await store.append('s', [ev('A')], -1);
    await store.close();
    const raw = new Database(file, { readonly: true });
    try {
      expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(raw.prepare('SELECT MAX(version) FROM rekey_schema').pluck().get()).toBe(SQLITE_SCHEMA_VERSION);
      const indexes = raw.prepare("SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events'").pluck().all();
      expect(indexes.join('\n')).toMatch(/occurred_at/);
    } finally {
      raw.close();
    }
  });

  it('takes recordedAt from the injected wall clock', async () => {
    const store = open(newFile(), { wallClock: () => new Date('2040-02-03T04:05:06.789Z') });
    await store.append('s', [ev('A'), ev('B')], -1);
    expect((await store.readAll()).map((e) => e.recordedAt)).toEqual(['2040-02-03T04:05:06.789Z', '2040-02-03T04:05:06.789Z']);
  });

  it('hashes exactly as the in-memory store does', async () => {
    const sqlite = open(newFile());
    const memory = createInMemoryEventStore();
    const batches: [string, NewEvent[]][] = [
      ['a', [ev('A', { z: 1, a: [3, 2, 1] }), ev('B', { s: 'x"y\\z' })]],
      ['b', [ev('C', { unicode: '✓\u2028', n: -0.5e-7 })]],
    ];
    for (const [stream, events] of batches) {
      await sqlite.append(stream, events, 'any');
      await memory.append(stream, events, 'any');
    }
    expect((await sqlite.readAll()).map((e) => e.hash)).toEqual((await memory.readAll()).map((e) => e.hash));
    expect(await sqlite.verify()).toEqual(await memory.verify());
    await memory.close();
  });

  it('rolls back an append that fails half-way through its inserts', async () => {
    const file = newFile();
    const store = open(file);
    await store.append('s', [ev('A')], -1);
    const raw = new Database(file);
    raw.exec("CREATE TRIGGER boom BEFORE INSERT ON events WHEN NEW.type = 'Boom' BEGIN SELECT RAISE(ABORT, 'boom'); END;");
    raw.close();
    await expect(store.append('s', [ev('B'), ev('C'), ev('Boom')], 0)).rejects.toThrow(/boom/);
    expect((await store.readAll()).map((e) => e.type)).toEqual(['A']);
    expect(await store.append('s', [ev('B'), ev('C')], 0)).toEqual({ lastRevision: 2, lastPosition: 3 });
    expect(await store.verify()).toMatchObject({ ok: true, checked: 3 });
  });

  it('opens read-only: reads work, appends are refused, a missing file is not found', async () => {
    const file = newFile();
    const writer = open(file);
    await writer.append('s', [ev('A')], -1);
    const reader = open(file, { readonly: true });
    expect((await reader.readAll()).length).toBe(1);
    await expect(reader.append('s', [ev('B')], 0)).rejects.toMatchObject({ code: 'STORE_READONLY' });
    expect(await reader.verify()).toMatchObject({ ok: true, checked: 1 });
    const missing = join(root, 'nope', 'missing.db');
    const error = expectCode(() => openSqliteEventStore({ file: missing, readonly: true }), 'STORE_NOT_FOUND');
    expect(error.message).toContain(missing);
    expect(existsSync(dirname(missing))).toBe(false);
  });

  it('two stores on one file append without losing events, and see each other live', async () => {
    const file = newFile();
    const a = open(file);
    const b = open(file);
    const seen = record(a.subscribeAll());
    const appends: Promise<unknown>[] = [];
    for (let i = 0; i < 200; i++) {
      const store = i % 2 === 0 ? a : b;
      appends.push(store.append(`s${i % 5}`, [ev('X', { i }), ev('Y', { i })], 'any'));
    }
    await Promise.all(appends);
    // a conflict across the two connections
    await a.append('contended', [ev('First')], -1);
    await expect(b.append('contended', [ev('Second')], -1)).rejects.toMatchObject({ code: 'WRONG_EXPECTED_REVISION', actual: 0 });
    await seen.until(401);
    await sleep(100);
    expect(seen.positions()).toEqual(range(1, 401));
    expect(await b.verify()).toMatchObject({ ok: true, checked: 401 });
    seen.stop();
  });

  it('an append sees what another store on the file committed since its own last append', async () => {
    const file = newFile();
    const a = open(file);
    const b = open(file);
    await a.append('s1', [ev('A')], -1);
    await b.append('s2', [ev('B')], -1); // a's next append must not reuse its old head
    expect(await a.append('s1', [ev('C')], 0)).toEqual({ lastRevision: 1, lastPosition: 3 });
    await b.append('s1', [ev('D')], 1); // nor its old revision of s1
    await expect(a.append('s1', [ev('E')], 1)).rejects.toMatchObject({ code: 'WRONG_EXPECTED_REVISION', expected: 1, actual: 2 });
    expect(await a.append('s1', [ev('E')], 2)).toEqual({ lastRevision: 3, lastPosition: 5 });
    // and a raw write (an operator's repair) is seen as well
    const raw = new Database(file);
    raw.prepare('DELETE FROM events WHERE position = 5').run();
    raw.close();
    expect(await a.append('s1', [ev('F')], 2)).toEqual({ lastRevision: 3, lastPosition: 5 });
    expect(await b.verify()).toMatchObject({ ok: true, checked: 5 });
  });

  it('a read past its own last append still finds what another store or a raw handle committed since', async () => {
    const file = newFile();
    const a = open(file);
    const b = open(file);
    await a.append('s1', [ev('A')], -1);
    expect(await a.readAll(2)).toEqual([]); // past a's own head, nobody else wrote: PRAGMA data_version answers
    await b.append('s2', [ev('B')], -1);
    expect((await a.readAll(2)).map((e) => e.type)).toEqual(['B']);
    await a.append('s1', [ev('C')], 0);
    const raw = new Database(file);
    // an event written by hand (an operator's repair) after a's own head
    raw.prepare(`INSERT INTO events SELECT 4, stream, revision + 1, 'Repaired', data, metadata, occurred_at, recorded_at, 'raw', hash FROM events WHERE position = 3`).run();
    raw.close();
    expect((await a.readAll(4)).map((e) => e.type)).toEqual(['Repaired']);
    const head = await a.headPosition();
    await b.append('s2', [ev('D')], 0);
    expect((await a.readAll(head + 1)).map((e) => e.type)).toEqual(['D']);
  });

  it('other processes append concurrently without losing events; a subscriber sees all of them once', async () => {
    const file = newFile('shared');
    const store = open(file);
    await store.append('setup', [ev('Opened')], -1);
    const seen = record(store.subscribeAll());
    const here = dirname(fileURLToPath(import.meta.url));
    const workers = 3;
    const commands = 100;
    const run = (id: number) =>
      new Promise<{ workerId: string; commands: number; conflicts: number }>((resolve, reject) => {
        const child = spawn(
          process.execPath,
          ['--import', join(here, 'support', 'register.mjs'), join(here, 'support', 'appendWorker.ts'), file, `w${id}`, String(commands)],
          { stdio: ['ignore', 'pipe', 'pipe'] },
        );
        let out = '';
        let err = '';
        child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
        child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
        child.on('error', reject);
        child.on('exit', (code) => {
          if (code === 0) resolve(JSON.parse(out.trim()) as { workerId: string; commands: number; conflicts: number });
          else reject(new Error(`worker ${id} exited with ${code}: ${err}`));
        });
      });
    const running = range(1, workers).map(run);
    // this process appends meanwhile too
    for (let i = 0; i < 100; i++) {
      await store.append('parent', [ev('P', { i })], i - 1);
      if (i % 10 === 0) await sleep(5);
    }
    const summaries = await Promise.all(running);
    expect(summaries.map((s) => s.commands)).toEqual([commands, commands, commands]);

    const total = 1 + 100 + workers * commands * 4;
    expect(await store.headPosition()).toBe(total);
    const all = await store.readAll();
    expect(all.map((e) => e.position)).toEqual(range(1, total));
    for (const stream of ['parent', 'shared', 'worker-w1', 'worker-w2', 'worker-w3']) {
      const events = await store.readStream(stream);
      expect(events.map((e) => e.revision)).toEqual(range(0, events.length - 1));
    }
    expect((await store.readStream('shared')).length).toBe(workers * commands);
    expect((await store.readStream('worker-w2')).length).toBe(commands * 3);
    expect(await store.verify()).toMatchObject({ ok: true, checked: total });

    await seen.until(total, 20_000);
    await sleep(100);
    expect(seen.events.length).toBe(total);
    expect(seen.positions()).toEqual(range(1, total));
    seen.stop();
  });

  it('verify names the one event whose stored bytes were edited', async () => {
    const file = newFile();
    const store = open(file);
    for (let i = 0; i < 20; i++) await store.append(`s${i % 3}`, [ev('E', { amount: i * 10 })], 'any');
    expect(await store.verify()).toMatchObject({ ok: true, checked: 20 });
    const raw = new Database(file);
    raw.prepare("UPDATE events SET data = replace(data, '70', '71') WHERE position = 8").run();
    expect(raw.prepare('SELECT data FROM events WHERE position = 8').pluck().get()).toBe('{"amount":71}');
    raw.close();
    const result = await store.verify();
    expect(result).toMatchObject({ ok: false, position: 8, reason: 'tampered' });
    if (!result.ok) expect(result.message).toMatch(/position 8/);

    // garbage bytes (not even JSON) are reported the same way
    const raw2 = new Database(file);
    raw2.prepare("UPDATE events SET data = '{\"amount\":70}', metadata = substr(metadata, 2) WHERE position = 8").run();
    raw2.close();
    expect(await store.verify()).toMatchObject({ ok: false, position: 8, reason: 'tampered' });
  });

  it('verify flags an indexed column that disagrees with the hashed metadata', async () => {
    const file = newFile();
    const store = open(file);
    for (let i = 0; i < 5; i++) await store.append('s', [ev('E')], i - 1);
    const raw = new Database(file);
    raw.prepare("UPDATE events SET occurred_at = '1999-01-01T00:00:00.000Z' WHERE position = 4").run();
    raw.close();
    expect(await store.verify()).toMatchObject({ ok: false, position: 4, reason: 'tampered' });
  });

  it('a deleted last event is detected only with expectHead; a deleted middle one always', async () => {
    const file = newFile();
    const store = open(file);
    for (let i = 0; i < 10; i++) await store.append('s', [ev('E', { i })], i - 1);
    const verified = await store.verify();
    expect(verified).toMatchObject({ ok: true, checked: 10, headPosition: 10 });
    const head = verified.ok ? verified.headHash : '';
    expect(head).toBe((await store.readAll(10))[0]!.hash);

    const raw = new Database(file);
    raw.prepare('DELETE FROM events WHERE position = 10').run();
    expect(await store.verify()).toMatchObject({ ok: true, checked: 9 });
    expect(await store.verify({ expectHead: head })).toMatchObject({ ok: false, position: 10, reason: 'missing' });

    raw.prepare('DELETE FROM events WHERE position = 4').run();
    raw.close();
    expect(await store.verify()).toMatchObject({ ok: false, position: 4, reason: 'missing' });
  });

  it('refuses a garbage file with STORE_CORRUPT naming the file', () => {
    const file = newFile('garbage');
    writeFileSync(file, Buffer.from(Array.from({ length: 8192 }, (_, i) => (i * 7919) % 256)));
    const error = expectCode(() => openSqliteEventStore({ file }), 'STORE_CORRUPT');
    expect(error.kind).toBe('integrity');
    expect(error.message).toContain(file);
    expect(error.details).toMatchObject({ file });
    expectCode(() => openSqliteEventStore({ file, readonly: true }), 'STORE_CORRUPT');
  });

  it('refuses a truncated file with STORE_CORRUPT', async () => {
    const file = newFile('truncated');
    const store = openSqliteEventStore({ file });
    for (let i = 0; i < 50; i++) await store.append(`s${i}`, [ev('E', { pad: 'x'.repeat(500) })], -1);
    await store.close();
    expect(existsSync(`${file}-wal`)).toBe(false);
    truncateSync(file, Math.floor(statSync(file).size / 2));
    const error = expectCode(() => openSqliteEventStore({ file }), 'STORE_CORRUPT');
    expect(error.message).toContain(file);
    // a file cut inside its header
    truncateSync(file, 50);
    expectCode(() => openSqliteEventStore({ file }), 'STORE_CORRUPT');
  });

  it('refuses an SQLite database that is not a rekey store, and a newer schema', () => {
    const foreign = newFile('foreign');
    const raw = new Database(foreign);
    raw.exec('CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)');
    raw.close();
    const error = expectCode(() => openSqliteEventStore({ file: foreign }), 'STORE_CORRUPT');
    expect(error.message).toMatch(/not a rekey event store/);

    const future = newFile('future');
    openSqliteEventStore({ file: future }).close();
    const raw2 = new Database(future);
    raw2.prepare("INSERT INTO rekey_schema VALUES (?, 'later', 'from the future')").run(SQLITE_SCHEMA_VERSION + 1);
    raw2.close();
    expectCode(() => openSqliteEventStore({ file: future }), 'STORE_SCHEMA_UNSUPPORTED');
  });

  it('initialises an empty existing file', async () => {
    const file = newFile('empty');
    writeFileSync(file, '');
    const store = open(file);
    expect(await store.append('s', [ev('A')], -1)).toEqual({ lastRevision: 0, lastPosition: 1 });
  });
});
