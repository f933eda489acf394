/**
 * Integrity (issue 6): `rekey verify` on a store whose bytes were changed behind rekey's back. Each
 * case edits a copy of a simulated store directly (raw better-sqlite3 statements, or bytes of the
 * file itself) and runs the built binary: exit 1 with the first bad position, exit 0 when intact,
 * `--expect-head` for a log cut short at its end, and the `--json` shapes of docs/contract.md.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyStore, tinyStore } from './support/fixtures.js';
import { runCli } from './support/processes.js';
import { removeScratchDirs } from './support/scratch.js';

interface Row { position: number; stream: string; type: string; data: string; metadata: string }

const VERIFY_OK_KEYS = ['checked', 'headHash', 'headPosition', 'ok'];
const VERIFY_FAILED_KEYS = ['checked', 'message', 'ok', 'position', 'reason'];

afterAll(removeScratchDirs);

describe('rekey verify finds edited, missing and cut-off events', () => {
  let db = '';
  let events = 0;
  let rows: Row[] = [];
  beforeAll(async () => {
    ({ db, events } = await tinyStore('integrity'));
    const raw = new Database(db, { readonly: true });
    rows = raw.prepare<[], Row>('SELECT position, stream, type, data, metadata FROM events ORDER BY position').all();
    raw.close();
    expect(rows.length).toBe(events);
    expect(events).toBeGreaterThan(40);
  }, 60_000);

  /** A copy of the store, changed by `edit` through a raw SQLite handle. */
  const edited = (name: string, edit: (raw: Database.Database) => void): string => {
    const copy = copyStore(db, name);
    const raw = new Database(copy);
    edit(raw);
    raw.close();
    return copy;
  };
  const verify = (file: string, ...extra: string[]) => runCli(['verify', '--db', file, ...extra]);

  it('an intact store verifies: exit 0, the number of events and the head hash; --json has exactly ok, checked, headHash, headPosition', async () => {
    const text = await verify(db);
    expect(text).toMatchObject({ status: 0, stderr: '' });
    expect(text.stdout).toMatch(new RegExp(`^ok: ${events} events checked, head [0-9a-f]{64}\\n$`));
    const json = await verify(db, '--json');
    expect(json).toMatchObject({ status: 0, stderr: '' });
    const result = JSON.parse(json.stdout) as Record<string, unknown>;
    expect(Object.keys(result).sort()).toEqual(VERIFY_OK_KEYS);
    expect(result).toMatchObject({ ok: true, checked: events, headPosition: events, headHash: expect.stringMatching(/^[0-9a-f]{64}$/) });
  });

  it("one changed byte of one event's data (raw UPDATE): exit 1, naming that position; --json shape", async () => {
    const target = rows.find((row) => row.type === 'KeyIssued' && row.position > 10)!;
    const data = target.data.replace(/"thumbprint":"(.)/, (_m, c: string) => `"thumbprint":"${c === 'A' ? 'B' : 'A'}`);
    expect(data).not.toBe(target.data);
    const file = edited('data-edited.db', (raw) => raw.prepare('UPDATE events SET data = ? WHERE position = ?').run(data, target.position));
    const text = await verify(file);
    expect(text.status).toBe(1);
    expect(text.stderr).toBe('');
    expect(text.stdout).toContain(`FAILED at position ${target.position} (tampered)`);
    const json = await verify(file, '--json');
    expect(json.status).toBe(1);
    const result = JSON.parse(json.stdout) as Record<string, unknown>;
    expect(Object.keys(result).sort()).toEqual(VERIFY_FAILED_KEYS);
    expect(result).toMatchObject({ ok: false, position: target.position, reason: 'tampered', checked: target.position - 1 });
    expect(result.message).toContain(`position ${target.position}`);
  });

  it('a byte changed in the database file itself, below SQLite: exit 1 at that event', async () => {
    const target = rows.find((row) => row.type === 'GroupPasswordSet')!;
    const packageText = (JSON.parse(target.data) as { passwordPackage: string }).passwordPackage;
    const needle = Buffer.from(packageText.slice(400, 440));
    const file = copyStore(db, 'bytes-edited.db');
    const bytes = readFileSync(file);
    let edits = 0;
    for (let at = bytes.indexOf(needle); at >= 0; at = bytes.indexOf(needle, at + 1), edits++) {
      bytes[at + 10] = bytes[at + 10] === 0x41 ? 0x42 : 0x41; // another base64 character: still valid text, still a valid page
    }
    expect(edits).toBeGreaterThan(0);
    writeFileSync(file, bytes);
    const result = await verify(file, '--json');
    expect(result.status).toBe(1);
    expect(JSON.parse(result.stdout)).toMatchObject({ ok: false, position: target.position, reason: 'tampered' });
  });

  it('an indexed column that disagrees with the hashed metadata (occurred_at moved): exit 1 at that event', async () => {
    const target = rows[Math.floor(rows.length / 2)]!;
    const file = edited('column-edited.db', (raw) => raw.prepare("UPDATE events SET occurred_at = '2099-01-01T00:00:00.000Z' WHERE position = ?").run(target.position));
    const result = await verify(file, '--json');
    expect(result.status).toBe(1);
    expect(JSON.parse(result.stdout)).toMatchObject({ ok: false, position: target.position, reason: 'tampered' });
  });

  it('a deleted event in the middle: exit 1, missing at its position', async () => {
    const position = Math.floor(rows.length / 3);
    const file = edited('middle-deleted.db', (raw) => raw.prepare('DELETE FROM events WHERE position = ?').run(position));
    const text = await verify(file);
    expect(text.status).toBe(1);
    expect(text.stdout).toContain(`FAILED at position ${position} (missing)`);
    expect(JSON.parse((await verify(file, '--json')).stdout)).toMatchObject({ ok: false, position, reason: 'missing', checked: position - 1 });
  });

  it('--expect-head detects a log cut short at its end, which the chain alone cannot show', async () => {
    const head = (JSON.parse((await verify(db, '--json')).stdout) as { headHash: string }).headHash;
    expect((await verify(db, '--expect-head', head)).status).toBe(0);
    const file = edited('cut-short.db', (raw) => raw.prepare('DELETE FROM events WHERE position = ?').run(events));
    // The chain alone still holds; what gives the cut away without --expect-head is the simulation's
    // end marker, the event cut off (issue 18: a run without SimulationEnded is incomplete).
    const alone = await verify(file, '--json');
    expect(alone.status).toBe(1);
    expect(JSON.parse(alone.stdout)).toMatchObject({ ok: false, reason: 'incomplete', position: events, checked: events - 1 });
    const text = await verify(file, '--expect-head', head);
    expect(text.status).toBe(1);
    expect(text.stdout).toContain(`FAILED at position ${events} (missing)`);
    const json = await verify(file, '--expect-head', head, '--json');
    expect(json.status).toBe(1);
    const result = JSON.parse(json.stdout) as Record<string, unknown>;
    expect(Object.keys(result).sort()).toEqual(VERIFY_FAILED_KEYS);
    expect(result).toMatchObject({ ok: false, position: events, reason: 'missing', checked: events - 1 });
    expect(result.message).toContain(head);
  });

  it('a malformed --expect-head is bad usage: exit 2, one error line (or the JSON error with --json, stdout empty)', async () => {
    const text = await verify(db, '--expect-head', 'not-a-hash');
    expect(text).toMatchObject({ status: 2, stdout: '' });
    expect(text.stderr).toMatch(/^rekey: ARGUMENT_INVALID: [^\n]+\n$/);
    const json = await verify(db, '--expect-head', 'A'.repeat(64), '--json');
    expect(json).toMatchObject({ status: 2, stdout: '' });
    expect(JSON.parse(json.stderr)).toEqual({ error: { code: 'ARGUMENT_INVALID', message: expect.stringContaining('--expect-head') } });
  });
});
