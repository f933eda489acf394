/**
 * How the machine API refuses: every failure, whatever raised it, leaves as one
 * `{"error": {"code", "message"}}` with an HTTP status, and never says more than the caller may know.
 */
import type { FastifyRequest } from 'fastify';
import { isRekeyError } from '../../kernel/errors.js';
import { GROUP_NOT_FOUND } from '../../domain/group/errors.js';
import { RateLimitedError } from '../rateLimit.js';

/** An HTTP-level refusal of the machine API (authentication, authorization, malformed requests). */
export class MachineApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
    this.name = 'MachineApiError';
  }
}

export const MAX_BODY_BYTES = 1024 * 1024;

export function describeError(error: unknown, request: FastifyRequest): { status: number; code: string; message: string } {
  if (error instanceof MachineApiError || error instanceof RateLimitedError) return { status: error.status, code: error.code, message: error.message };
  if (isRekeyError(error, GROUP_NOT_FOUND)) {
    // The engine's message lists the known groups: not for a caller that may not be a member.
    const { group } = request.params as { group?: string };
    return { status: error.httpStatus, code: error.code, message: group === undefined ? 'machine group not found' : `machine group ${group} not found` };
  }
  if (isRekeyError(error)) return { status: error.httpStatus, code: error.code, message: error.message };
  const e = error as { validation?: unknown; statusCode?: number; message?: string; code?: string };
  if (e?.validation) return { status: 400, code: 'REQUEST_INVALID', message: e.message ?? 'request is invalid' };
  if (e?.statusCode === 413) return { status: 413, code: 'PAYLOAD_TOO_LARGE', message: `request body is larger than ${MAX_BODY_BYTES} bytes` };
  if (e?.statusCode === 415) return { status: 415, code: 'REQUEST_INVALID', message: 'the machine API takes application/json bodies only' };
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return { status: e.statusCode, code: 'REQUEST_INVALID', message: e.message ?? 'request is invalid' };
  }
  return { status: 500, code: 'INTERNAL', message: 'the service failed to handle the request; see its log' };
}
