/** `rekey agent` as real child processes (the built CLI), with their JSON-lines accounts parsed. */
import { spawn, type ChildProcess } from 'node:child_process';
import type { AgentEvent } from '../../../src/remote/agentProcess.js';

export interface AgentChild {
  readonly name: string;
  readonly child: ChildProcess;
  readonly events: AgentEvent[];
  stderr(): string;
  /** Resolves with the first event (seen so far or to come) that matches. */
  waitFor(match: (event: AgentEvent) => boolean, what: string, timeoutMs?: number): Promise<AgentEvent>;
  /** Resolves with the exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  stop(): Promise<number | null>;
}

export function spawnAgent(name: string, args: readonly string[], env: Record<string, string>): AgentChild {
  const child = spawn(process.execPath, ['dist/src/cli/main.js', 'agent', '--name', name, '--json', ...args], {
    env: { ...process.env, REKEY_GROUP_PASSWORD: '', REKEY_NEW_GROUP_PASSWORD: '', REKEY_MACHINE_PASSPHRASE: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const events: AgentEvent[] = [];
  const waiters: { match: (event: AgentEvent) => boolean; resolve: (event: AgentEvent) => void }[] = [];
  let stdoutBuffer = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (text: string) => {
    stdoutBuffer += text;
    let newline: number;
    while ((newline = stdoutBuffer.indexOf('\n')) >= 0) {
      const line = stdoutBuffer.slice(0, newline);
      stdoutBuffer = stdoutBuffer.slice(newline + 1);
      if (line.trim() === '') continue;
      const event = JSON.parse(line) as AgentEvent;
      events.push(event);
      for (const waiter of [...waiters]) {
        if (waiter.match(event)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(event);
        }
      }
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    name,
    child,
    events,
    stderr: () => stderr,
    exited,
    waitFor(match, what, timeoutMs = 30_000) {
      const seen = events.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`agent ${name}: no ${what} within ${timeoutMs} ms; events: ${events.map((e) => e.event).join(',')}; stderr: ${stderr}`)), timeoutMs);
        waiters.push({ match, resolve: (event) => (clearTimeout(timer), resolve(event)) });
        void exited.then((code) => {
          clearTimeout(timer);
          reject(new Error(`agent ${name} exited (${code}) before ${what}; stderr: ${stderr}`));
        });
      });
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Polls until the condition holds (real time), or fails naming what it waited for. */
export async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
