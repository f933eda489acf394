/**
 * What the HTTP tests stand on: a real SQLite store in a temp directory, filled by the real simulator
 * from one of the examples, a real server on a loopback port chosen by the OS, and small clients
 * (JSON over fetch, server-sent events over a streamed fetch). No mocks.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pooledKeyPairSource } from '../../../src/crypto/keys.js';
import { createServer, type RekeyServer, type ServerOptions } from '../../../src/api/index.js';
import { loadScenarioFile } from '../../../src/simulation/loader.js';
import { simulate } from '../../../src/simulation/simulator.js';
import type { Scenario } from '../../../src/simulation/scenario.js';
import { openSqliteEventStore, type SqliteEventStore } from '../../../src/store/sqlite.js';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const example = (name: string) => join(ROOT, 'examples', `${name}.json`);

export interface Fixture {
  readonly dir: string;
  readonly file: string;
  readonly store: SqliteEventStore;
  readonly scenario: Scenario;
  readonly server: RekeyServer;
  readonly url: string;
  close(): Promise<void>;
}

/** Simulates an example into a new store and serves it. */
export async function servedExample(name: string, options: Omit<ServerOptions, 'store'> = {}): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), 'rekey-api-'));
  const file = join(dir, 'rekey.db');
  const store = openSqliteEventStore({ file, pollIntervalMs: 20 });
  const scenario = loadScenarioFile(example(name));
  await simulate(scenario, { store, keys: pooledKeyPairSource({ size: 6, recycle: true }) });
  const server = await createServer({ store, host: '127.0.0.1', port: 0, schedulerIntervalMs: 0, ...options });
  return {
    dir,
    file,
    store,
    scenario,
    server,
    url: server.url,
    async close() {
      await server.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface JsonResponse<T = any> {
  readonly status: number;
  readonly headers: Headers;
  readonly body: T;
}

export async function getJson<T = any>(url: string, headers: Record<string, string> = {}): Promise<JsonResponse<T>> {
  const response = await fetch(url, { headers: { accept: 'application/json', ...headers } });
  return { status: response.status, headers: response.headers, body: (await response.json()) as T };
}

export async function postJson<T = any>(url: string, body: unknown, headers: Record<string, string> = {}): Promise<JsonResponse<T>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: (text === '' ? null : JSON.parse(text)) as T };
}

export interface SseEvent {
  readonly event: string;
  readonly id: string | null;
  readonly data: any;
}

/** A server-sent events client on a streamed fetch: collects events; waitFor resolves on the first match. */
export class SseClient {
  readonly events: SseEvent[] = [];
  private readonly controller = new AbortController();
  private readonly waiters: { test: (e: SseEvent) => boolean; resolve: (e: SseEvent) => void }[] = [];
  status = 0;
  private constructor() {}

  static async open(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
    const client = new SseClient();
    const response = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: client.controller.signal });
    client.status = response.status;
    if (!response.ok || !response.body) return client;
    void client.read(response.body);
    return client;
  }

  private async read(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let event = 'message';
          let id: string | null = null;
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) continue;
            const [field, ...rest] = line.split(':');
            const value = rest.join(':').replace(/^ /, '');
            if (field === 'event') event = value;
            else if (field === 'id') id = value;
            else if (field === 'data') data.push(value);
          }
          if (data.length === 0) continue;
          const parsed: SseEvent = { event, id, data: JSON.parse(data.join('\n')) };
          this.events.push(parsed);
          for (const waiter of [...this.waiters]) {
            if (waiter.test(parsed)) {
              this.waiters.splice(this.waiters.indexOf(waiter), 1);
              waiter.resolve(parsed);
            }
          }
        }
      }
    } catch {
      // aborted by close()
    }
  }

  waitFor(test: (e: SseEvent) => boolean, timeoutMs = 15_000): Promise<SseEvent> {
    const found = this.events.find(test);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching server-sent event within ${timeoutMs} ms; got ${this.events.map((e) => e.event).join(', ')}`)), timeoutMs);
      this.waiters.push({ test, resolve: (e) => (clearTimeout(timer), resolve(e)) });
    });
  }

  close(): void {
    this.controller.abort();
  }
}
