/**
 * GET /api/changes: the change feed as server-sent events, with the trigger's filters as query
 * parameters: table (comma-separated; default all), changeType (create,update,delete), columns
 * (an update fires only when one of them changed), filter (OData, on the row after the change) and
 * fromPosition (default: only changes after the head at connection time; a reconnecting EventSource's
 * Last-Event-ID resumes at that position, so a change may come twice but none is lost).
 *
 * Stream: first `event: ready` with {"fromPosition"}, then `event: change` per change (`id:` its log
 * position, `data:` the change as JSON), and a comment every 15 s to keep proxies from closing it.
 * Bad filters are refused with 400 before the stream starts.
 */
import type { FastifyInstance } from 'fastify';
import { changeFeed } from '../../../projections/index.js';
import { isRekeyError } from '../../kernel/errors.js';
import type { ApiContext } from '../context.js';
import { list, positiveInteger, single, type Query } from '../params.js';

const KEEP_ALIVE_MS = 15_000;

export function changeRoutes(app: FastifyInstance, ctx: ApiContext, track: (close: () => void) => () => void): void {
  app.get('/api/changes', async (request, reply) => {
    const query = request.query as Query;
    const fromText = single(query, 'fromPosition');
    const lastEventId = request.headers['last-event-id'];
    let fromPosition: number;
    if (fromText !== undefined) fromPosition = positiveInteger('fromPosition', fromText, Number.MAX_SAFE_INTEGER);
    else if (typeof lastEventId === 'string' && /^\d{1,15}$/.test(lastEventId)) fromPosition = Math.max(1, Number(lastEventId));
    else fromPosition = (await ctx.store.headPosition()) + 1;
    const feed = changeFeed(ctx.readModel, {
      tables: list(query, 'table'),
      changeTypes: list(query, 'changeType'),
      columns: list(query, 'columns'),
      filter: single(query, 'filter'),
      fromPosition,
    });

    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    raw.write(`retry: 3000\nevent: ready\ndata: ${JSON.stringify({ fromPosition })}\n\n`);
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      clearInterval(keepAlive);
      subscription.unsubscribe();
      untrack();
      if (!raw.writableEnded) raw.end();
    };
    const keepAlive = setInterval(() => raw.write(': keep-alive\n\n'), KEEP_ALIVE_MS);
    const subscription = feed.subscribe({
      next: (change) => {
        raw.write(`id: ${change.position}\nevent: change\ndata: ${JSON.stringify(change)}\n\n`);
      },
      error: (error: unknown) => {
        const code = isRekeyError(error) ? error.code : 'INTERNAL';
        const message = error instanceof Error ? error.message : String(error);
        raw.write(`event: error\ndata: ${JSON.stringify({ error: { code, message } })}\n\n`);
        finish();
      },
      complete: finish,
    });
    const untrack = track(finish);
    request.raw.on('close', finish);
  });
}
