/**
 * GET /health: 200 while the server can read its store and its read model follows the log; 503 with
 * the read model's error while it does not (a full disk, a lost log). A failed read model is asked
 * to start again first, so /health recovers as soon as the cause is gone. GET /metrics: Prometheus
 * text format.
 */
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context.js';
import type { ApiMetrics } from '../metrics.js';

export function opsRoutes(app: FastifyInstance, ctx: ApiContext, metrics: ApiMetrics): void {
  app.get('/health', async (_request, reply) => {
    if (ctx.readModel.health().error !== null) await ctx.readModel.sync().catch(() => undefined);
    const { error } = ctx.readModel.health();
    const head = await ctx.store.headPosition();
    const body = { status: error === null ? 'ok' : 'failing', store: ctx.store.kind, position: head, readModelPosition: ctx.readModel.checkpoint().position };
    if (error === null) return body;
    void reply.code(503);
    return { ...body, error };
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
