/**
 * GET /health: 200 while the server can read its store and its read model follows the log; 503 with
 * the read model's error while it does not (a full disk, a lost log), and 503 STORE_FULL while the
 * disk under a SQLite store has less than 1 MiB free. A failed read model is asked
 * to start again first, so /health recovers as soon as the cause is gone. A simulation in the log
 * that did not finish is listed under `warnings` (SIMULATION_INCOMPLETE). GET /metrics: Prometheus
 * text format.
 */
import type { FastifyInstance } from 'fastify';
import { incompleteSimulation } from '../../simulation/runMarkers.js';
import { diskFullError } from '../diskSpace.js';
import type { ApiContext } from '../context.js';
import type { ApiMetrics } from '../metrics.js';

export function opsRoutes(app: FastifyInstance, ctx: ApiContext, metrics: ApiMetrics): void {
  app.get('/health', async (_request, reply) => {
    if (ctx.readModel.health().error !== null) await ctx.readModel.sync().catch(() => undefined);
    const full = diskFullError(ctx.store);
    const error = ctx.readModel.health().error ?? (full && { code: full.code, message: full.message });
    const head = await ctx.store.headPosition();
    const body = { status: error === null ? 'ok' : 'failing', store: ctx.store.kind, position: head, readModelPosition: ctx.readModel.checkpoint().position };
    // A simulation cut short is not a failure of the server, but whoever reads these tables must know.
    const incomplete = await incompleteSimulation(ctx.store);
    const warnings = incomplete ? { warnings: [{ code: incomplete.code, message: incomplete.message }] } : {};
    if (error === null) return { ...body, ...warnings };
    void reply.code(503);
    return { ...body, error, ...warnings };
  });
  let scraping: Promise<string> | null = null;
  app.get('/metrics', async (_request, reply) => {
    // Concurrent scrapes share one computation of the gauges.
    scraping ??= metrics.render().finally(() => {
      scraping = null;
    });
    const text = await scraping;
    void reply.header('content-type', metrics.registry.contentType);
    return text;
  });
}
