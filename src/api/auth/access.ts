/**
 * Who may call what on the admin and read API, checked in one fastify `onRequest` hook before any
 * route runs (so no route can forget it):
 *
 * - public: `GET /` and `/favicon.ico` (the dashboard's page, which holds no data), `GET /health`, and
 *   the machine API under `/api/machine` (machines prove who they are with their own signatures);
 * - role reader: every other GET (OData tables, history, timeline, reminders, the change feed, metrics);
 * - role admin: commands (`/api/commands/*`) and webhook subscriptions (`/api/subscriptions*`, GET too:
 *   they name receivers' URLs), and any other method. An admin may do everything a reader may.
 *
 * Tokens come as `Authorization: Bearer <token>`. While the auth file holds no token at all, a server
 * bound to loopback serves everyone on this machine as before (the caller is the actor `local`); a
 * server bound beyond loopback refuses to start without one (see `requireTokensBeyondLoopback`), and
 * answers 401 should the file lose them later. Refusals are 401 (no token, unknown token, revoked
 * token; with `WWW-Authenticate: Bearer`) or 403 (a reader asking for an admin route), with a body
 * `{"error": {"code", "message"}}` that never repeats the token.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { RekeyError, errorKind } from '../../kernel/errors.js';
import { errorBody } from '../errors.js';
import type { Role } from './tokenRegistry.js';
import type { TokenVerifier } from './tokenVerifier.js';

/** No token was sent, or not as `Authorization: Bearer <token>`. */
export const AUTH_REQUIRED = 'AUTH_REQUIRED';
/** The token is not one the auth file knows. */
export const AUTH_INVALID = 'AUTH_INVALID';
/** The token was revoked. */
export const AUTH_REVOKED = 'AUTH_REVOKED';
/** The token's role does not allow the request. */
export const AUTH_FORBIDDEN = 'AUTH_FORBIDDEN';
/** `rekey serve` was asked to listen beyond loopback while the auth file holds no active token. */
export const AUTH_NOT_CONFIGURED = errorKind('AUTH_NOT_CONFIGURED', 'validation');

export interface Caller {
  /** What commands record as their actor: `token:<id>`, or `local` on an open loopback server. */
  readonly actor: string;
  readonly role: Role;
}

const LOCAL: Caller = { actor: 'local', role: 'admin' };
const callers = new WeakMap<FastifyRequest, Caller>();

/** The caller the hook admitted (undefined on public routes). */
export function callerOf(request: FastifyRequest): Caller | undefined {
  return callers.get(request);
}

/** The role a request needs, or null for a public route. */
export function requiredRole(method: string, url: string): Role | null {
  const path = url.split('?')[0]!;
  if ((method === 'GET' || method === 'HEAD') && (path === '/' || path === '/favicon.ico' || path === '/health')) return null;
  if (path === '/api/machine' || path.startsWith('/api/machine/')) return null;
  if (path.startsWith('/api/commands') || path.startsWith('/api/subscriptions')) return 'admin';
  return method === 'GET' || method === 'HEAD' ? 'reader' : 'admin';
}

const allows = (held: Role, needed: Role) => held === 'admin' || needed === 'reader';

function refuse(reply: FastifyReply, status: 401 | 403, code: string, message: string): FastifyReply {
  if (status === 401) {
    void reply.header('www-authenticate', code === AUTH_REQUIRED ? 'Bearer realm="rekey"' : 'Bearer realm="rekey", error="invalid_token"');
  }
  return reply.code(status).send(errorBody(code, message));
}

/** The bearer token of a request, or null when the header is absent; a header of another shape is ''. */
function bearerOf(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (header === undefined) return null;
  const match = /^Bearer[ ]+([^\s]+)\s*$/i.exec(header);
  return match ? match[1]! : '';
}

export interface AccessOptions {
  readonly verifier: TokenVerifier;
  /** Whether the server is bound to a loopback address (open access while no token exists). */
  readonly loopback: boolean;
}

export function installAccessControl(app: FastifyInstance, options: AccessOptions): void {
  const { verifier, loopback } = options;
  app.addHook('onRequest', async (request, reply) => {
    const needed = requiredRole(request.method, request.url);
    if (needed === null) return;
    const what = `${request.method} ${request.url.split('?')[0]!.slice(0, 200)}`;
    if (!verifier.configured()) {
      if (loopback) {
        callers.set(request, LOCAL);
        return;
      }
      return refuse(reply, 401, AUTH_REQUIRED, `${what} needs a token, and this server's auth file ${verifier.file} holds none; create one with 'rekey token create --role ${needed}'`);
    }
    const token = bearerOf(request);
    if (token === null) return refuse(reply, 401, AUTH_REQUIRED, `${what} needs a token of role ${needed}: send 'Authorization: Bearer <token>' (tokens come from 'rekey token create --role ${needed}')`);
    if (token === '') return refuse(reply, 401, AUTH_REQUIRED, `the Authorization header must be 'Bearer <token>'; ${what} needs a token of role ${needed}`);
    const record = verifier.lookup(token);
    if (!record) return refuse(reply, 401, AUTH_INVALID, `the bearer token is not one this server knows (it was mistyped, or comes from another store's auth file); ${what} needs a token of role ${needed}`);
    if (record.revokedAt !== null) return refuse(reply, 401, AUTH_REVOKED, `token ${record.id} (${record.name}) was revoked at ${record.revokedAt}; ask an admin for a new one ('rekey token create --role ${needed}')`);
    if (!allows(record.role, needed)) return refuse(reply, 403, AUTH_FORBIDDEN, `token ${record.id} (${record.name}) has role ${record.role}; ${what} needs role ${needed}`);
    callers.set(request, { actor: `token:${record.id}`, role: record.role });
  });
}

/** Refuses to expose the API beyond loopback while no active token could ever be admitted. */
export function requireTokensBeyondLoopback(host: string, loopback: boolean, verifier: TokenVerifier): void {
  if (loopback || verifier.activeCount() > 0) return;
  throw new RekeyError(
    AUTH_NOT_CONFIGURED,
    `--host ${host} would expose the API beyond this machine, but the auth file ${verifier.file} holds no active token; create one first with 'rekey token create --role admin' (and give --tls-cert and --tls-key so tokens never cross the network in the clear), or listen on 127.0.0.1`,
    { host, file: verifier.file },
  );
}
