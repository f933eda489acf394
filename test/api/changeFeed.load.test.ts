/**
 * The change feed under load, on `rekey serve` as a child process (its own event loop, as in
 * production): 1,000 idle server-sent event streams open at once, /health still answers at once (the
 * bound is the 100 ms for the median of 20 requests, far above the few milliseconds it
 * takes), the 1,001st stream is refused with 503 SSE_CONNECTION_LIMIT, and a slot freed is taken again.
 * REKEY_SSE_STREAMS changes the number of streams.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rekey } from '../cli/support.js';

const STREAMS = Number(process.env.REKEY_SSE_STREAMS ?? 1000);
let dir: string;
let child: ChildProcess;
let port: number;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rekey-sse-load-'));
  const db = join(dir, 'rekey.db');
  expect(rekey(['simulate', 'examples/healthy-fleet.json', '--db', db]).status).toBe(0);
  child = spawn(process.execPath, ['dist/src/cli/main.js', 'serve', '--db', db, '--port', '0', '--max-change-streams', String(STREAMS)], { env: { ...process.env, REKEY_DB: '', REKEY_AUTH_FILE: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const url = await new Promise<string>((resolve, reject) => {
    let stdout = '';
    child.stdout!.on('data', (chunk) => {
      stdout += chunk;
      const match = /^(http:\/\/\S+)\n/m.exec(stdout);
      if (match) resolve(match[1]!);
    });
    child.on('exit', (code) => reject(new Error(`rekey serve exited (${code})`)));
  });
  port = Number(new URL(url).port);
}, 120_000);
afterAll(() => {
  child?.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
});

/** An SSE stream on a raw socket (HTTP/1.0, so the body comes unframed); resolves once `ready` came, or with the refusal. */
function openStream(): Promise<{ socket: Socket; status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    const settle = () => {
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0);
      if (status === 200 && text.includes('event: ready')) resolve({ socket, status, text });
      else if (status !== 0 && status !== 200 && text.includes('}')) resolve({ socket, status, text });
    };
    socket.on('data', (chunk) => {
      text += chunk.toString('utf8');
      settle();
    });
    socket.on('error', reject);
    socket.write(`GET /api/changes HTTP/1.0\r\nhost: 127.0.0.1:${port}\r\naccept: text/event-stream\r\n\r\n`);
  });
}

async function healthTimes(count: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    const response = await fetch(`http://127.0.0.1:${port}/health`);
    expect(response.status).toBe(200);
    await response.json();
    times.push(performance.now() - started);
  }
  return times.sort((a, b) => a - b);
}

describe(`${STREAMS} idle change-feed streams`, () => {
  it('/health answers at once with them all open; one more is refused with 503 SSE_CONNECTION_LIMIT; a freed slot is taken again', async () => {
    const streams: Socket[] = [];
    try {
      for (let i = 0; i < STREAMS; i += 100) {
        const batch = await Promise.all(Array.from({ length: Math.min(100, STREAMS - i) }, () => openStream()));
        for (const stream of batch) {
          expect(stream.status).toBe(200);
          streams.push(stream.socket);
        }
      }
      expect(streams).toHaveLength(STREAMS);
      const times = await healthTimes(20);
      const median = times[10]!;
      expect(median, `health times ${times.map((t) => t.toFixed(1)).join(', ')} ms`).toBeLessThan(100);

      const refused = await openStream();
      expect(refused.status).toBe(503);
      expect(refused.text).toMatch(/retry-after: 5/i);
      const body = JSON.parse(refused.text.slice(refused.text.indexOf('{')));
      expect(body.error.code).toBe('SSE_CONNECTION_LIMIT');
      expect(body.error.message).toContain(`already holds ${STREAMS} change-feed connections, its limit (--max-change-streams ${STREAMS})`);
      refused.socket.destroy();

      streams.pop()!.destroy();
      const deadline = Date.now() + 10_000;
      let again = await openStream();
      while (again.status === 503 && Date.now() < deadline) {
        again.socket.destroy();
        await new Promise((resolve) => setTimeout(resolve, 50));
        again = await openStream();
      }
      expect(again.status).toBe(200);
      streams.push(again.socket);
    } finally {
      for (const socket of streams) socket.destroy();
    }
  }, 180_000);
});
