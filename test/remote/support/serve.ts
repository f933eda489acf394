/** `rekey serve` as a real child process (the built CLI) on a given store, and raw signed requests to it. */
import { spawn, type ChildProcess } from 'node:child_process';
import { pooledKeyPairSource } from '../../../src/crypto/index.js';
import { manualClock } from '../../../src/domain/time.js';
import { MachineAgent } from '../../../src/engine/agent.js';
import { Engine } from '../../../src/engine/engine.js';
import { randomIds } from '../../../src/engine/ids.js';
import { openSqliteEventStore } from '../../../src/store/sqlite.js';

/**
 * Groups with their first key and password already on the store, a minute in the past: agents then
 * join with the password. (A first machine joining over the wall clock must land its certificate in
 * the second it was told, which a busy test machine cannot promise.)
 */
export async function seedGroups(db: string, groups: readonly { name: string; password: string }[]): Promise<void> {
  const store = openSqliteEventStore({ file: db });
  try {
    const engine = await Engine.open({ store, clock: manualClock(Math.floor(Date.now() / 1000) * 1000 - 60_000), ids: randomIds() });
    const keys = pooledKeyPairSource({ size: 1, recycle: true });
    for (const [index, group] of groups.entries()) {
      await engine.createGroup({ name: group.name });
      await new MachineAgent({ engine, machineId: `seed-${index}`, name: `SEED-${index}`, agentVersion: '2.23.116.23040', keys }).join(group.name, group.password);
    }
  } finally {
    await store.close();
  }
}

export interface ServeChild {
  /** The base URL, without the trailing slash. */
  readonly url: string;
  readonly child: ChildProcess;
  stderr(): string;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

export async function startServe(db: string, args: readonly string[] = []): Promise<ServeChild> {
  const child = spawn(process.execPath, ['dist/src/cli/main.js', 'serve', '--db', db, '--port', '0', ...args], {
    env: { ...process.env, REKEY_DB: '', REKEY_EVENTSTORE: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.setEncoding('utf8').on('data', (text: string) => {
      stdout += text;
      const match = /^(http:\/\/\S+?)\/?\n/m.exec(stdout);
      if (match) resolve(match[1]!);
    });
    void exited.then((code) => reject(new Error(`rekey serve exited (${code}) before printing its URL: ${stderr}`)));
  });
  return {
    url,
    child,
    stderr: () => stderr,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

export interface RawResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly body: { error?: { code: string; message: string } } & Record<string, unknown>;
}

/** Sends exactly these headers and body bytes (a captured request can be sent again unchanged). */
export async function sendRaw(base: string, method: 'GET' | 'POST', path: string, body: Buffer | undefined, headers: Record<string, string>): Promise<RawResponse> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : new Uint8Array(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text === '' ? {} : JSON.parse(text) };
}
