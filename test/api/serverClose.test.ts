/**
 * Stopping `rekey serve` never hangs on a client: a request whose body never arrives holds its
 * connection busy, and the server cuts it after its grace period instead of waiting for it (Node's
 * own request timeout would keep a SIGTERM waiting for five minutes).
 */
import { connect } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { createServer } from '../../src/api/index.js';
import { openSqliteEventStore } from '../../src/store/sqlite.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

it('closes within its grace period while a client is stuck halfway through sending a request', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rekey-close-'));
  dirs.push(dir);
  const store = openSqliteEventStore({ file: join(dir, 'rekey.db') });
  const server = await createServer({ store, host: '127.0.0.1', port: 0, schedulerIntervalMs: 0 });
  const socket = connect(server.port, '127.0.0.1');
  const cut = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  socket.on('error', () => undefined);
  await new Promise<void>((resolve) => socket.on('connect', () => resolve()));
  // Headers promise 100 bytes of body; 10 arrive, the rest never does.
  socket.write('POST /api/commands/createGroup HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"name": "');
  await new Promise((resolve) => setTimeout(resolve, 200));

  const started = performance.now();
  await server.close();
  const took = performance.now() - started;
  await cut;
  await store.close();
  expect(took).toBeGreaterThan(4_000); // it did wait for the busy client first
  expect(took).toBeLessThan(20_000);
}, 60_000);
