/** `rekey serve` as real child processes (the built binary), for the tests that run several at once. */
import { spawn, type ChildProcess } from 'node:child_process';
import { CLI, REPO_ROOT } from './processes.js';

export interface ServeProcess {
  readonly child: ChildProcess;
  /** `http://127.0.0.1:PORT` (no trailing slash). */
  readonly url: string;
  /** Everything the server wrote on stderr so far. */
  stderr(): string;
  /** SIGTERM, then the exit code and the whole stderr. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

/** Starts `rekey serve --port 0 ARGS...` and resolves once it printed its URL. */
export function startServe(args: readonly string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<ServeProcess> {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', ...args], {
    cwd: options.cwd ?? REPO_ROOT,
    env: { ...process.env, REKEY_DB: '', REKEY_EVENTSTORE: '', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return new Promise((resolve, reject) => {
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const match = /^(http:\/\/\S+?)\/?\n/m.exec(stdout);
      if (!match) return;
      resolve({
        child,
        url: match[1]!,
        stderr: () => stderr,
        async stop() {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
          const { code, signal } = await exited;
          return { code, signal, stderr };
        },
      });
    });
    void exited.then(({ code, signal }) => reject(new Error(`rekey serve exited (${code ?? signal}) before printing its URL: ${stderr}`)));
  });
}

export interface Answer {
  readonly status: number;
  readonly body: { error?: { code: string; message: string }; events?: { position: number; stream: string; type: string }[]; [key: string]: unknown };
}

export async function post(url: string, command: string, body: Record<string, unknown>): Promise<Answer> {
  const response = await fetch(`${url}/api/commands/${command}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as Answer['body'] };
}

export async function getJson(url: string, path: string, headers: Record<string, string> = {}): Promise<Answer> {
  const response = await fetch(`${url}${path}`, { headers });
  return { status: response.status, body: (await response.json()) as Answer['body'] };
}
