/**
 * The agent's side of the machine API: signed HTTP requests (Node's fetch) and the service's
 * refusals turned back into RekeyErrors with the service's code and message.
 */
import type { KeyObject } from 'node:crypto';
import { RekeyError, errorKind, type ErrorKind } from '../kernel/errors.js';
import {
  HEADER,
  paths,
  type AckKeyBody,
  type CheckInBody,
  type CheckInResponse,
  type JoinBody,
  type JoinStartResponse,
  type MachineView,
  type PublishKeyBody,
  type ReencryptionBody,
  type RegeneratePasswordBody,
  type RejoinBody,
  type RunOrder,
  type RunReportBody,
  type TimeResponse,
} from './protocol.js';
import { newNonce, signRequest, type SigningKeyPair } from './signing.js';

export const SERVER_UNREACHABLE = errorKind('SERVER_UNREACHABLE', 'refused');

/** A refusal by the service: its code and message, and the HTTP status it came with. */
export class RemoteError extends RekeyError {
  constructor(code: string, message: string, readonly status: number, readonly retryAfterSeconds?: number) {
    super(code, message, { status }, kindOfStatus(status));
    this.name = 'RemoteError';
  }
}

function kindOfStatus(status: number): ErrorKind {
  if (status === 400 || status === 413 || status === 415) return 'validation';
  if (status === 404) return 'not_found';
  if (status >= 500) return 'internal';
  return 'refused';
}

export interface Signer {
  readonly machine: string;
  readonly key: SigningKeyPair;
  /** Joins and rejoins name the key carried in the body. */
  readonly selfSigned?: boolean;
}

export interface MachineClientOptions {
  /** The service's base URL, e.g. http://127.0.0.1:8080 */
  readonly server: string;
  readonly fetch?: typeof fetch;
  /** Real ms before a request is given up (default 30 s). */
  readonly timeoutMs?: number;
  /**
   * How many times a request refused with 429 is sent again (signed anew) after the `Retry-After`
   * the service named (default 5; a wait over 60 s is not waited for).
   */
  readonly rateLimitRetries?: number;
}

export class MachineClient {
  private readonly base: string;
  private readonly fetchImpl: typeof fetch;
  private readonly timeoutMs: number;
  private readonly rateLimitRetries: number;

  constructor(options: MachineClientOptions) {
    let url: URL;
    try {
      url = new URL(options.server);
    } catch {
      throw new RekeyError('ARGUMENT_INVALID', `--server ${JSON.stringify(options.server)} is not a URL; expected e.g. http://127.0.0.1:8080`, {}, 'validation');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new RekeyError('ARGUMENT_INVALID', `--server ${url.origin} must be an http:// or https:// URL`, {}, 'validation');
    }
    this.base = url.href.replace(/\/+$/, '');
    this.fetchImpl = options.fetch ?? fetch;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.rateLimitRetries = options.rateLimitRetries ?? 5;
  }

  time(): Promise<TimeResponse> {
    return this.request('GET', paths.time(), undefined, null);
  }

  joinStart(group: string, signer: Signer): Promise<JoinStartResponse> {
    return this.request('POST', paths.joinStart(group), { machine: signer.machine, signingKey: signer.key.publicKeyPem }, { ...signer, selfSigned: true });
  }

  join(group: string, body: JoinBody, signer: Signer): Promise<MachineView> {
    return this.request('POST', paths.join(group), body, { ...signer, selfSigned: true });
  }

  rejoin(group: string, body: RejoinBody, signer: Signer): Promise<MachineView> {
    return this.request('POST', paths.rejoin(group, signer.machine), body, { ...signer, selfSigned: true });
  }

  machine(group: string, signer: Signer): Promise<MachineView> {
    return this.request('GET', paths.machine(group, signer.machine), undefined, signer);
  }

  checkIn(group: string, body: CheckInBody, signer: Signer): Promise<CheckInResponse> {
    return this.request('POST', paths.checkIn(group, signer.machine), body, signer);
  }

  publishKey(group: string, body: PublishKeyBody, signer: Signer): Promise<MachineView> {
    return this.request('POST', paths.publishKey(group, signer.machine), body, signer);
  }

  ackKey(group: string, body: AckKeyBody, signer: Signer): Promise<MachineView> {
    return this.request('POST', paths.ackKey(group, signer.machine), body, signer);
  }

  runs(group: string, signer: Signer): Promise<{ runs: RunOrder[] }> {
    return this.request('GET', paths.runs(group, signer.machine), undefined, signer);
  }

  reportRun(group: string, runId: string, body: RunReportBody, signer: Signer): Promise<{ recorded: boolean }> {
    return this.request('POST', paths.run(group, signer.machine, runId), body, signer);
  }

  reencrypt(group: string, body: ReencryptionBody, signer: Signer): Promise<{ recorded: boolean }> {
    return this.request('POST', paths.reencryptions(group, signer.machine), body, signer);
  }

  regeneratePassword(group: string, body: RegeneratePasswordBody, signer: Signer): Promise<MachineView> {
    return this.request('POST', paths.password(group, signer.machine), body, signer);
  }

  disconnect(group: string, signer: Signer): Promise<{ disconnected: boolean }> {
    return this.request('POST', paths.disconnect(group, signer.machine), {}, signer);
  }

  /** One request, signed when a signer is given; sent again (signed anew) while the service answers 429 with a short Retry-After. */
  async request<T>(method: 'GET' | 'POST', path: string, body: unknown, signer: Signer | null): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.send<T>(method, path, body, signer);
      } catch (error) {
        const wait = error instanceof RemoteError && error.status === 429 ? error.retryAfterSeconds : undefined;
        if (wait === undefined || wait > 60 || attempt >= this.rateLimitRetries) throw error;
        // A little jitter, so machines refused together do not all come back in the same instant.
        await new Promise((resolve) => setTimeout(resolve, wait * 1000 + Math.floor(Math.random() * 250)));
      }
    }
  }

  private async send<T>(method: 'GET' | 'POST', path: string, body: unknown, signer: Signer | null): Promise<T> {
    const bytes = body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(body), 'utf8');
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (signer) Object.assign(headers, signedHeaders(method, path, bytes, signer.machine, signer.key.privateKey, signer.selfSigned ? signer.key.thumbprint : undefined));
    let response: Response;
    try {
      response = await this.fetchImpl(`${this.base}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : bytes,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      throw unreachable(this.base, method, path, error);
    }
    return readServiceAnswer<T>(response, method, path);
  }
}

/** A request that got no answer at all: the service is down, unreachable, or too slow. */
export function unreachable(base: string, method: string, path: string, error: unknown, hint = ''): RekeyError {
  const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name;
  return new RekeyError(SERVER_UNREACHABLE, `the rekey service at ${base} did not answer ${method} ${path.split('?')[0]} (${cause})${hint}`, { cause });
}

/**
 * The body of a rekey service's answer, or its refusal as a RemoteError with the service's own code
 * and message (checked: an answer from something else becomes HTTP_<status>, never a forged code);
 * a 429's Retry-After in seconds (the service never sends the HTTP-date form; without one a 429 is
 * not retried). The query is left out of messages: it may hold values the caller did not choose to show.
 */
export async function readServiceAnswer<T>(response: Response, method: string, path: string): Promise<T> {
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (!response.ok) {
    const error = (parsed as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
    const code = typeof error?.code === 'string' && /^[A-Z][A-Z0-9_]{0,63}$/.test(error.code) ? error.code : `HTTP_${response.status}`;
    const message = typeof error?.message === 'string' ? error.message.slice(0, 2000) : `the service answered ${response.status} to ${method} ${path.split('?')[0]}`;
    const retryAfter = response.status === 429 ? response.headers.get('retry-after') : null;
    throw new RemoteError(code, message, response.status, retryAfter !== null && /^\d{1,6}$/.test(retryAfter) ? Number(retryAfter) : undefined);
  }
  return parsed as T;
}

/** The headers that sign one request (see signing.ts). */
export function signedHeaders(method: string, path: string, body: Uint8Array, machine: string, privateKey: KeyObject, keyThumbprint?: string, timestamp = String(Date.now()), nonce = newNonce()): Record<string, string> {
  const signature = signRequest(privateKey, { method, path, body, timestamp, nonce, machine });
  return {
    [HEADER.machine]: encodeURIComponent(machine),
    [HEADER.timestamp]: timestamp,
    [HEADER.nonce]: nonce,
    [HEADER.signature]: signature,
    ...(keyThumbprint ? { [HEADER.key]: keyThumbprint } : {}),
  };
}
