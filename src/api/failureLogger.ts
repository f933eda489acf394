/**
 * The logger fastify hands to routes and plugins (`request.log`): errors and fatal errors become one
 * line each on the server's failure log, everything else is dropped. Routes that rekey did not write
 * (the machine API plugin logs its 500s through `request.log.error`) are heard too, without fastify's
 * per-request chatter.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { FailureLog } from './errors.js';

export function failureLogger(log: FailureLog): FastifyBaseLogger {
  const report = (first: unknown, second?: unknown) => {
    const [context, message] = typeof first === 'string' ? [undefined, first] : [first, typeof second === 'string' ? second : 'error'];
    const err = (context as { err?: unknown } | undefined)?.err ?? (context instanceof Error ? context : undefined);
    const cause = err instanceof Error ? `: ${(err as { code?: unknown }).code ? `${String((err as { code?: unknown }).code)}: ` : ''}${err.message}` : '';
    log(`rekey serve: ${message}${cause}`);
  };
  const ignore = () => undefined;
  const logger: FastifyBaseLogger = {
    level: 'error',
    error: report,
    fatal: report,
    warn: ignore,
    info: ignore,
    debug: ignore,
    trace: ignore,
    silent: ignore,
    child: () => logger,
  };
  return logger;
}
