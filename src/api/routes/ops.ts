/** GET /health (200 while the server can read its store) and GET /metrics (Prometheus text format). */
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context.js';
import type { ApiMetrics } from '../metrics.js';

export function opsRoutes(app: FastifyInstance, ctx: ApiContext, metrics: ApiMetrics): void {
  app.get('/health', async () => {
    const head = await ctx.store.headPosition();
    return { status: 'ok', store: ctx.store.kind, position: head, readModelPosition: ctx.readModel.checkpoint().position };
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
