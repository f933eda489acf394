/**
 * How the HTTP API speaks about failures: every error is `{"error": {"code", "message"}}` with the
 * status of its kind (RekeyError.httpStatus: validation 400, not_found 404, refused and conflict 409,
 * integrity and internal 500). A JSON-schema failure names the field and the reason; messages never
 * echo a submitted value (a password could be one).
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { RekeyError, errorKind, isRekeyError } from '../kernel/errors.js';
import { NAME_PATTERN, NAME_RULE, nameProblem } from '../domain/names.js';

/** A request body, query parameter or header that does not have the required shape. */
export const REQUEST_INVALID = errorKind('REQUEST_INVALID', 'validation');
/** No resource at this URL: an unknown route or entity set (Dataverse: "Resource not found for the segment"). */
export const RESOURCE_NOT_FOUND = errorKind('RESOURCE_NOT_FOUND', 'not_found');
/** No webhook subscription with this id. */
export const SUBSCRIPTION_NOT_FOUND = errorKind('SUBSCRIPTION_NOT_FOUND', 'not_found');
/** Plaintext credentials are accepted only from the loopback interface (the portal's role, src/engine/portal.ts). */
export const CREDENTIALS_REQUIRE_LOOPBACK = errorKind('CREDENTIALS_REQUIRE_LOOPBACK', 'refused');

export interface ErrorBody {
  readonly error: { readonly code: string; readonly message: string };
}

export function errorBody(code: string, message: string): ErrorBody {
  return { error: { code, message } };
}

/** An ajv error as fastify hands it over. */
interface SchemaProblem {
  readonly instancePath?: string;
  readonly keyword?: string;
  readonly params?: Record<string, unknown>;
  readonly message?: string;
}

/** `body.minutes`, from `/minutes` (and `body` for the body itself). */
function fieldPath(context: string, instancePath: string | undefined, extra?: unknown): string {
  const parts = (instancePath ?? '').split('/').filter(Boolean).map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (typeof extra === 'string') parts.push(extra);
  return [context, ...parts].join('.');
}

/** The value at an ajv instance path (`/a/0/b`) inside `root`, or undefined. */
function valueAt(root: unknown, instancePath: string | undefined): unknown {
  let value = root;
  for (const part of (instancePath ?? '').split('/').filter(Boolean)) {
    const key = part.replace(/~1/g, '/').replace(/~0/g, '~');
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/**
 * One sentence per schema problem, naming the field and the reason, never the value. A name that
 * breaks the names rule is described by its first offending character (code point and position),
 * from `data`, the validated body, query or params.
 */
export function describeSchemaProblem(context: string, problem: SchemaProblem, data?: unknown): string {
  const params = problem.params ?? {};
  if (problem.keyword === 'pattern' && params.pattern === NAME_PATTERN.source) {
    const value = valueAt(data, problem.instancePath);
    const reason = typeof value === 'string' ? nameProblem(value) : null;
    if (reason !== null) return `${fieldPath(context, problem.instancePath)} is not a valid name: ${reason}; expected ${NAME_RULE}`;
  }
  switch (problem.keyword) {
    case 'required':
      return `${fieldPath(context, problem.instancePath, params.missingProperty)} is required`;
    case 'additionalProperties':
      return `${fieldPath(context, problem.instancePath, params.additionalProperty)} is not a known field`;
    case 'type':
      return `${fieldPath(context, problem.instancePath)} must be ${String(params.type).replace(',', ' or ')}`;
    case 'minLength':
      return `${fieldPath(context, problem.instancePath)} must not be empty`;
    case 'maxLength':
      return `${fieldPath(context, problem.instancePath)} must be at most ${String(params.limit)} characters long`;
    case 'minimum':
    case 'maximum':
      return `${fieldPath(context, problem.instancePath)} must be ${problem.keyword === 'minimum' ? '>=' : '<='} ${String(params.limit)}`;
    case 'minItems':
    case 'maxItems':
      return `${fieldPath(context, problem.instancePath)} must have ${problem.keyword === 'minItems' ? 'at least' : 'at most'} ${String(params.limit)} items`;
    case 'enum':
      return `${fieldPath(context, problem.instancePath)} must be one of ${((params.allowedValues as unknown[]) ?? []).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'pattern':
    case 'format':
      return `${fieldPath(context, problem.instancePath)} is not in the expected format`;
    default:
      return `${fieldPath(context, problem.instancePath)} ${problem.message ?? 'is invalid'}`;
  }
}

/** Codes whose HTTP status is not that of their kind. */
const STATUS_BY_CODE: Readonly<Record<string, number>> = {
  STORE_FULL: 507, // Insufficient Storage: retry once the disk has room
};

export function httpStatusOf(error: RekeyError): number {
  return STATUS_BY_CODE[error.code] ?? error.httpStatus;
}

/** Where a server failure (status 500 and up) is reported: one line per failed request. */
export type FailureLog = (line: string) => void;

const stderrLog: FailureLog = (line) => void process.stderr.write(`${line}\n`);

/** One line, `rekey serve: STATUS CODE METHOD PATH: message`, with no query string (it may hold a filter's values). */
export function failureLine(status: number, code: string, message: string, request: FastifyRequest): string {
  const path = request.url.split('?')[0]!.slice(0, 200);
  return `rekey serve: ${status} ${code} ${request.method} ${path}: ${message.replace(/\s*\n\s*/g, '; ') || '(no message)'}`;
}

/** Fastify's error handler: RekeyErrors by kind, schema and parser errors as REQUEST_INVALID, the rest INTERNAL. */
export function handleError(error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): void {
  errorHandler(stderrLog)(error, request, reply);
}

/** The error handler, reporting every answer of 500 and up to `log`: no server failure goes unlogged. */
export function errorHandler(log: FailureLog): (error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply) => void {
  return (error, request, reply) => respond(error, request, reply, log);
}

function respond(error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply, log: FailureLog): void {
  if (isRekeyError(error)) {
    const status = httpStatusOf(error);
    if (status >= 500) log(failureLine(status, error.code, error.message, request));
    void reply.code(status).send(errorBody(error.code, error.message));
    return;
  }
  const fastifyError = error as FastifyError & { validation?: SchemaProblem[]; validationContext?: string };
  if (Array.isArray(fastifyError.validation)) {
    const context = fastifyError.validationContext ?? 'body';
    const data = ({ body: request.body, querystring: request.query, params: request.params, headers: request.headers } as Record<string, unknown>)[context];
    const message = fastifyError.validation.map((problem) => describeSchemaProblem(context, problem, data)).join('; ');
    void reply.code(400).send(errorBody(REQUEST_INVALID, message));
    return;
  }
  const status = typeof fastifyError.statusCode === 'number' ? fastifyError.statusCode : 500;
  if (status >= 400 && status < 500) {
    // Fastify's own refusals (malformed JSON, wrong content type, body too large, ...).
    void reply.code(status).send(errorBody(status === 404 ? RESOURCE_NOT_FOUND : REQUEST_INVALID, fastifyError.message));
    return;
  }
  const message = error.message || `${error.name} without a message`;
  log(`${failureLine(500, 'INTERNAL', message, request)}${error.stack ? `\n${error.stack}` : ''}`);
  void reply.code(500).send(errorBody('INTERNAL', message));
}

export function invalid(message: string, details: Record<string, unknown> = {}): RekeyError {
  return new RekeyError(REQUEST_INVALID, message, details, 'validation');
}

export function resourceNotFound(message: string, details: Record<string, unknown> = {}): RekeyError {
  return new RekeyError(RESOURCE_NOT_FOUND, message, details, 'not_found');
}
