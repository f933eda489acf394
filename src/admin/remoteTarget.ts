/**
 * Admin commands through a running `rekey serve`: `POST /api/commands/<command>` (the command's
 * fields as the body), `POST /api/dryrun`, `GET /api/tables`, `/api/explain/...`, `/api/plan`, with
 * `Authorization: Bearer <token>` when a token is given. The service's refusals come back as
 * RekeyErrors with its code and message (and the exit code of their HTTP status).
 */
import type { TablesAt } from '../../projections/index.js';
import { RekeyError } from '../kernel/errors.js';
import { toIso } from '../domain/time.js';
import type { Explanation } from '../explain/explain.js';
import type { Plan } from '../plan/plan.js';
import { readServiceAnswer, unreachable } from '../remote/client.js';
import type { AdminCommand } from './commands.js';
import type { DryRun } from './dryRun.js';
import type { EventView } from './eventView.js';
import type { AdminResult, AdminTarget, RunOptions } from './target.js';

export interface RemoteTargetOptions {
  readonly server: string;
  readonly token?: string;
  readonly timeoutMs?: number;
}

export function remoteTarget(options: RemoteTargetOptions): AdminTarget {
  let url: URL;
  try {
    url = new URL(options.server);
  } catch {
    throw new RekeyError('ARGUMENT_INVALID', `--server ${JSON.stringify(options.server.slice(0, 200))} is not a URL; expected e.g. http://127.0.0.1:8080`, {}, 'validation');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new RekeyError('ARGUMENT_INVALID', `--server ${url.origin} must be an http:// or https:// URL`, {}, 'validation');
  }
  const base = url.href.replace(/\/+$/, '');
  const timeoutMs = options.timeoutMs ?? 120_000;

  async function request<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    let response: Response;
    try {
      response = await fetch(`${base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs) });
    } catch (error) {
      throw unreachable(base, method, path, error, '; is rekey serve running there?');
    }
    return readServiceAnswer<T>(response, method, path);
  }
  const asOfQuery = (asOf?: number) => (asOf === undefined ? '' : `?asOf=${encodeURIComponent(toIso(asOf))}`);

  return {
    description: base,
    async run(commands: readonly AdminCommand[], runOptions: RunOptions): Promise<AdminResult | DryRun> {
      if (runOptions.dryRun) return request<DryRun>('POST', '/api/dryrun', { commands, forecast: runOptions.forecast !== false });
      // Several commands: the service dry-runs them together first, so a refusal records none.
      if (commands.length > 1) await request<DryRun>('POST', '/api/dryrun', { commands, forecast: false });
      const events: EventView[] = [];
      const queuedRuns: { connection: string; runId: string }[] = [];
      let position = 0;
      for (const { command, ...body } of commands) {
        const credential = command === 'createConnection' || command === 'fixConnection' ? runOptions.credential : undefined;
        const answer = await request<{ events: EventView[]; position: number; runId?: string | null }>('POST', `/api/commands/${command}`, { ...body, ...(credential ?? {}) });
        events.push(...answer.events.map((e) => ({ position: e.position, stream: e.stream, type: e.type, occurredAt: e.occurredAt, data: e.data ?? {} })));
        position = answer.position;
        if (command === 'runConnection') {
          const connection = (body as { connection: string }).connection;
          // R18: the service recorded the failed run; the command itself is refused.
          if (answer.runId === null || answer.runId === undefined) {
            throw new RekeyError('CONNECTION_NEEDS_FIX', `desktop flow connection ${connection} needs fixing (Fix connection), so it cannot run; the failed run is recorded at position ${position}; re-enter its credentials with rekey connection fix ${connection}`, { connection }, 'refused');
          }
          queuedRuns.push({ connection, runId: answer.runId });
        }
      }
      return { dryRun: false, commands: [...commands], events, position, ...(queuedRuns.length > 0 ? { queuedRuns } : {}) };
    },
    tables: (asOf?: number) => request<TablesAt>('GET', `/api/tables${asOfQuery(asOf)}`),
    explain: (table: string, name: string, asOf?: number) => request<Explanation>('GET', `/api/explain/${encodeURIComponent(table)}/${encodeURIComponent(name)}${asOfQuery(asOf)}`),
    plan: (asOf?: number) => request<Plan>('GET', `/api/plan${asOfQuery(asOf)}`),
    close: async () => undefined,
  };
}
