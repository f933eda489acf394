/**
 * `rekey import --from URL`: reads flowmachinegroups, flowmachines and (where the service has them)
 * desktopflowconnections from a Dataverse-compatible Web API, such as a Dataverse environment
 * (`https://org.crm.dynamics.com/api/data/v9.2`) or another `rekey serve`
 * (`http://127.0.0.1:8080/api/data/v9.2`), the way Microsoft's Web API docs say a client pages:
 * `Prefer: odata.maxpagesize=N`, then every `@odata.nextLink` as given until an answer has none
 * (https://learn.microsoft.com/en-us/power-apps/developer/data-platform/webapi/query/page-results).
 *
 * - With a token it sends `Authorization: Bearer <token>`, and only to the origin of URL: a next
 *   link to another host is refused. The token never appears in a message: every text that
 *   reaches a message (a server's error message, a URL) has it replaced by `[token]`.
 * - 429 and 503 (Dataverse's service protection limits) are retried after `Retry-After` (seconds or
 *   an HTTP date; 1 s, 2 s, 4 s, ... when absent), at most `maxRetries` times and never waiting more
 *   than `maxRetryWaitSeconds` at once; then DATAVERSE_UNAVAILABLE says how often it tried.
 * - Each table's first request asks for `$count=true`, so progress can say "page 3, 12,000 of 40,000 rows".
 */
import { RekeyError, errorKind } from '../kernel/errors.js';
import type { ImportTable } from './columns.js';

/** The service could not be reached, failed (5xx), kept throttling, or answered something that is not OData. */
export const DATAVERSE_UNAVAILABLE = errorKind('DATAVERSE_UNAVAILABLE', 'internal');
/** The service refused the request (401, 403, 400...): the token, the URL or the permissions are wrong. */
export const DATAVERSE_REFUSED = errorKind('DATAVERSE_REFUSED', 'refused');

export const DEFAULT_PULL_PAGE_SIZE = 5000;
const TABLES: readonly { readonly table: ImportTable; readonly optional: boolean }[] = [
  { table: 'flowmachinegroups', optional: false },
  { table: 'flowmachines', optional: false },
  // Not a Dataverse table (connections live in Power Platform): served by rekey serve, absent from Dataverse.
  { table: 'desktopflowconnections', optional: true },
];

export interface PullOptions {
  /** The Web API root, `.../api/data/v9.2` (a bare server address gets `/api/data/v9.2` added). */
  readonly url: string;
  readonly token?: string;
  /** Rows per page asked with Prefer: odata.maxpagesize (1 to 5,000; default 5,000). */
  readonly pageSize?: number;
  readonly maxRetries?: number;
  readonly maxRetryWaitSeconds?: number;
  readonly timeoutMs?: number;
  readonly onProgress?: (progress: PullProgress) => void;
  /** How to wait before a retry (tests may shorten it; default setTimeout). */
  readonly sleep?: (ms: number) => Promise<void>;
}

export interface PullProgress {
  readonly table: ImportTable;
  readonly page: number;
  readonly rows: number;
  /** @odata.count of the table, when the service gave it. */
  readonly total?: number;
}

/** One page as fetched: where it came from (without the token) and its JSON body. */
export interface PulledPage {
  readonly name: string;
  readonly table: ImportTable;
  readonly body: Record<string, unknown>;
}

export interface PullResult {
  readonly pages: readonly PulledPage[];
  /** Optional tables the service does not have (404). */
  readonly missing: readonly ImportTable[];
  readonly retries: number;
}

export async function pullTables(options: PullOptions): Promise<PullResult> {
  const base = webApiRoot(options.url);
  const pageSize = options.pageSize ?? DEFAULT_PULL_PAGE_SIZE;
  const redact = (text: string) => (options.token ? text.split(options.token).join('[token]') : text);
  const pages: PulledPage[] = [];
  const missing: ImportTable[] = [];
  let retries = 0;
  for (const { table, optional } of TABLES) {
    let url: URL | undefined = new URL(`${base.pathname.replace(/\/$/, '')}/${table}`, base);
    url.searchParams.set('$count', 'true');
    let page = 0;
    let rows = 0;
    let total: number | undefined;
    while (url !== undefined) {
      const answer = await get(url, { ...options, pageSize }, redact, () => retries++);
      if (answer === 'not found') {
        if (optional && page === 0) {
          missing.push(table);
          break;
        }
        throw new RekeyError(DATAVERSE_REFUSED, `GET ${describeUrl(url, redact)} answered 404: the service has no entity set ${table}; expected a Dataverse Web API root such as https://org.crm.dynamics.com/api/data/v9.2`, { status: 404 }, 'refused');
      }
      page++;
      const value = answer.value;
      if (!Array.isArray(value)) throw unavailable(`GET ${describeUrl(url, redact)} answered JSON without a "value" array; expected an OData collection {"value": [...]}`);
      rows += value.length;
      if (typeof answer['@odata.count'] === 'number') total = answer['@odata.count'];
      pages.push({ name: `${describeUrl(url, redact)} (page ${page})`, table, body: { '@odata.context': `$metadata#${table}`, ...answer } });
      options.onProgress?.({ table, page, rows, ...(total !== undefined ? { total } : {}) });
      const next = answer['@odata.nextLink'];
      if (next === undefined) url = undefined;
      else {
        const link = typeof next === 'string' ? safeUrl(next, base) : undefined;
        if (link === undefined) throw unavailable(`GET ${describeUrl(url, redact)} answered an @odata.nextLink that is not a URL; expected an absolute URL to follow as given`);
        if (link.origin !== base.origin) {
          throw new RekeyError(DATAVERSE_REFUSED, `GET ${describeUrl(url, redact)} answered an @odata.nextLink to ${link.origin}, another host than ${base.origin}; rekey sends its token only to ${base.origin}`, {}, 'refused');
        }
        url = link;
      }
    }
  }
  return { pages, missing, retries };
}

/** `http://host:8080` -> `http://host:8080/api/data/v9.2/`; a URL with a path is kept as given. */
export function webApiRoot(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new RekeyError('ARGUMENT_INVALID', `--from ${JSON.stringify(text.slice(0, 200))} is not a URL; expected the Web API root, such as https://org.crm.dynamics.com/api/data/v9.2 or http://127.0.0.1:8080`, {}, 'validation');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new RekeyError('ARGUMENT_INVALID', `--from ${url.protocol}//... is not http or https; expected the Web API root, such as https://org.crm.dynamics.com/api/data/v9.2`, {}, 'validation');
  }
  if (url.username !== '' || url.password !== '') {
    throw new RekeyError('ARGUMENT_INVALID', '--from must not carry credentials in the URL; give the token with --token-file or REKEY_DATAVERSE_TOKEN', {}, 'validation');
  }
  if (url.pathname === '/' || url.pathname === '') url = new URL('/api/data/v9.2/', url);
  if (!url.pathname.endsWith('/')) url = new URL(`${url.pathname}/`, url);
  url.search = '';
  return url;
}

function safeUrl(text: string, base: URL): URL | undefined {
  try {
    return new URL(text, base);
  } catch {
    return undefined;
  }
}

/** The URL for a message: no query string (a $skiptoken is long; a query may carry anything). */
function describeUrl(url: URL, redact: (text: string) => string): string {
  return redact(`${url.origin}${url.pathname}${url.search === '' ? '' : '?…'}`);
}

function unavailable(message: string): RekeyError {
  return new RekeyError(DATAVERSE_UNAVAILABLE, message, {}, 'internal');
}

type Options = PullOptions & { readonly pageSize: number };

async function get(url: URL, options: Options, redact: (text: string) => string, retried: () => void): Promise<Record<string, unknown> | 'not found'> {
  const maxRetries = options.maxRetries ?? 5;
  const maxWait = (options.maxRetryWaitSeconds ?? 120) * 1000;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const headers: Record<string, string> = {
    Accept: 'application/json',
    'OData-MaxVersion': '4.0',
    'OData-Version': '4.0',
    Prefer: `odata.maxpagesize=${options.pageSize}, odata.include-annotations="OData.Community.Display.V1.FormattedValue"`,
  };
  if (options.token) headers.Authorization = `Bearer ${options.token}`;
  const where = `GET ${describeUrl(url, redact)}`;
  for (let attempt = 0; ; attempt++) {
    let response: Response;
    try {
      response = await fetch(url, { headers, redirect: 'error', signal: AbortSignal.timeout(options.timeoutMs ?? 60_000) });
    } catch (error) {
      const cause = error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error);
      throw unavailable(`${where} failed: ${redact(cause)}; expected a Dataverse-compatible Web API at ${redact(url.origin)}`);
    }
    if (response.status === 429 || response.status === 503) {
      await response.body?.cancel();
      if (attempt >= maxRetries) {
        throw unavailable(`${where} answered ${response.status} ${response.statusText} ${attempt + 1} times (retried ${maxRetries} times, honouring Retry-After); the service is throttling or unavailable: try again later, or with a smaller --page-size`);
      }
      const wait = retryAfterMs(response.headers.get('retry-after'), attempt);
      if (wait > maxWait) {
        throw unavailable(`${where} answered ${response.status} with Retry-After ${Math.ceil(wait / 1000)} s, more than the ${maxWait / 1000} s rekey waits at once; try again later`);
      }
      retried();
      await sleep(wait);
      continue;
    }
    const text = await response.text();
    if (response.status === 404) return 'not found';
    if (!response.ok) {
      const kind = response.status >= 500 ? 'internal' : 'refused';
      const hint = response.status === 401 ? ': the token is missing, expired or not for this environment (--token-file or REKEY_DATAVERSE_TOKEN)'
        : response.status === 403 ? ': the token\'s user may not read this table'
        : '';
      const detail = serverMessage(text);
      throw new RekeyError(kind === 'internal' ? DATAVERSE_UNAVAILABLE : DATAVERSE_REFUSED, redact(`${where} answered ${response.status} ${response.statusText}${detail ? ` (${detail})` : ''}${hint}`), { status: response.status }, kind);
    }
    try {
      const body = JSON.parse(text) as unknown;
      if (typeof body === 'object' && body !== null && !Array.isArray(body)) return body as Record<string, unknown>;
    } catch {
      // reported below
    }
    throw unavailable(`${where} answered ${response.status} with a body that is not a JSON object (content-type ${redact(response.headers.get('content-type') ?? 'none')}); expected an OData JSON response`);
  }
}

/** Retry-After: delta-seconds or an HTTP date; without it, 1 s, 2 s, 4 s, ... */
export function retryAfterMs(header: string | null, attempt: number, now = Date.now()): number {
  if (header !== null) {
    const text = header.trim();
    if (/^\d{1,9}$/.test(text)) return Number(text) * 1000;
    const date = Date.parse(text);
    if (!Number.isNaN(date)) return Math.max(0, date - now);
  }
  return 1000 * 2 ** attempt;
}

/** A Dataverse error body's message, shortened, or the start of whatever text it was. */
function serverMessage(text: string): string {
  let message = text;
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    if (body.error && typeof body.error.message === 'string') message = `${typeof body.error.code === 'string' ? `${body.error.code}: ` : ''}${body.error.message}`;
  } catch {
    // not JSON: the raw text
  }
  message = message.replace(/\s+/g, ' ').trim();
  return message.length > 300 ? `${message.slice(0, 297)}...` : message;
}
