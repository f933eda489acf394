/**
 * JSON bodies kept as they came: a request's signature covers the exact bytes sent, so the bytes
 * must survive parsing for the signature check to see them.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { MAX_BODY_BYTES, MachineApiError } from './errors.js';

const rawBodies = new WeakMap<object, Buffer>();

/** Replaces the app's JSON parser with one that keeps each request's raw body. */
export function keepRawJsonBodies(app: FastifyInstance): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: MAX_BODY_BYTES }, (request, body, done) => {
    const raw = body as Buffer;
    rawBodies.set(request, raw);
    if (raw.length === 0) return done(null, undefined);
    try {
      done(null, JSON.parse(raw.toString('utf8')));
    } catch {
      done(new MachineApiError(400, 'REQUEST_INVALID', 'request body is not valid JSON'), undefined);
    }
  });
}

/** The bytes of the request's body as sent (empty when it had none). */
export function rawBodyOf(request: FastifyRequest): Buffer {
  return rawBodies.get(request) ?? Buffer.alloc(0);
}
