/**
 * GET /api/changes: the change feed as server-sent events, with the trigger's filters as query
 * parameters: table (comma-separated; default all), changeType (create,update,delete), columns (an
 * update fires only when one of them changed), filter (OData, on the row after the change) and
 * fromPosition (default: only changes after the head at connection time).
 *
 * Guarantees (docs/api.md, "Change feed"):
 * - Every change has an `id:` of its own, `P-I` (src/api/feed/cursor.ts), totally ordered; `ready`
 *   comes first with the id of the point the stream starts after (the head, without fromPosition).
 * - A reconnecting client's `Last-Event-ID` wins over `fromPosition` in the URL, and the stream
 *   resumes exactly after it: across any number of drops, no change is lost and none comes twice.
 * - A comment line every `heartbeatMs` (15 s) keeps proxies from closing an idle stream.
 * - At most `maxConnections` streams at once (503 SSE_CONNECTION_LIMIT beyond). A live client that
 *   reads too slowly to keep its unsent data under `maxBufferedBytes`, or a replaying one that takes
 *   nothing for `drainTimeoutMs`, is closed with `event: error` SSE_CLIENT_TOO_SLOW naming the id to
 *   resume from; server shutdown closes with SERVER_STOPPING.
 * Bad filters, a bad fromPosition or a Last-Event-ID this feed did not send are 400 before the stream
 * starts.
 */
import type { FastifyInstance } from 'fastify';
import type { ServerResponse } from 'node:http';
import { changeFilter } from '../../../projections/index.js';
import { isRekeyError } from '../../kernel/errors.js';
import type { ApiContext } from '../context.js';
import { errorBody } from '../errors.js';
import { cursorId, parseEventId, type Cursor } from '../feed/cursor.js';
import { changeHub } from '../feed/hub.js';
import { feedFollower } from '../feed/replay.js';
import { list, positiveInteger, single, type Query } from '../params.js';

export interface ChangeStreamOptions {
  /** Streams open at once (default 1,000); more are refused with 503. */
  readonly maxConnections?: number;
  /** Unsent bytes a client may leave waiting before it is closed as too slow (default 1 MiB). */
  readonly maxBufferedBytes?: number;
  /** Interval of the keep-alive comment (default 15,000 ms). */
  readonly heartbeatMs?: number;
  /** The reconnection delay the stream asks of EventSource clients (`retry:`, default 3,000 ms). */
  readonly retryMs?: number;
  /** Changes the shared fold keeps for clients that reconnect (default 10,000). */
  readonly hubBufferSize?: number;
  /** Replays from older positions running at once (default 4). */
  readonly maxReplays?: number;
  /** How long a replay waits for a client to take what was sent before closing it as too slow (default 30,000 ms). */
  readonly drainTimeoutMs?: number;
}

/** Too many change streams are open. */
export const SSE_CONNECTION_LIMIT = 'SSE_CONNECTION_LIMIT';
/** The client did not read its stream fast enough. */
export const SSE_CLIENT_TOO_SLOW = 'SSE_CLIENT_TOO_SLOW';
/** The server is stopping. */
export const SERVER_STOPPING = 'SERVER_STOPPING';

interface Session {
  heartbeat(): void;
  close(code: string, message: string): void;
}

export interface ChangeStreams {
  /** Streams open now. */
  open(): number;
  /** Closes every stream (with SERVER_STOPPING) and stops the shared fold. */
  close(): void;
}

export function changeRoutes(app: FastifyInstance, ctx: ApiContext, options: ChangeStreamOptions = {}): ChangeStreams {
  const maxConnections = options.maxConnections ?? 1000;
  const maxBufferedBytes = options.maxBufferedBytes ?? 1024 * 1024;
  const retryMs = options.retryMs ?? 3000;
  const drainTimeoutMs = options.drainTimeoutMs ?? 30_000;
  const hub = changeHub(ctx.readModel, { bufferSize: options.hubBufferSize ?? 10_000 });
  const follower = feedFollower(ctx.readModel, hub, { maxReplays: options.maxReplays ?? 4 });
  const sessions = new Set<Session>();
  // One timer for every stream: a thousand idle clients cost one wake-up per interval.
  const heartbeat = setInterval(() => {
    for (const session of sessions) session.heartbeat();
  }, options.heartbeatMs ?? 15_000);
  heartbeat.unref();

  app.get('/api/changes', async (request, reply) => {
    const query = request.query as Query;
    const passes = changeFilter({ tables: list(query, 'table'), changeTypes: list(query, 'changeType'), columns: list(query, 'columns'), filter: single(query, 'filter') });
    const fromText = single(query, 'fromPosition');
    const fromPosition = fromText === undefined ? undefined : positiveInteger('fromPosition', fromText, Number.MAX_SAFE_INTEGER);
    const lastEventId = request.headers['last-event-id'];
    const resumed = typeof lastEventId === 'string' && lastEventId.trim() !== '' ? parseEventId(lastEventId) : undefined;
    const head = await ctx.store.headPosition();
    const cursor: Cursor = resumed ?? { position: fromPosition === undefined ? head : fromPosition - 1, index: Infinity };

    if (sessions.size >= maxConnections) {
      void reply.code(503).header('retry-after', '5');
      return errorBody(SSE_CONNECTION_LIMIT, `this server already holds ${sessions.size} change-feed connections, its limit (--max-change-streams ${maxConnections}); retry later, close idle ones, or raise the limit`);
    }
    let stop: (() => void) | null = null;
    let finished = false;
    let lastId = cursorId(cursor);
    const raw: ServerResponse = reply.raw;
    reply.hijack();
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      'x-content-type-options': 'nosniff',
    });

    const finish = () => {
      if (finished) return;
      finished = true;
      sessions.delete(session);
      stop?.();
      if (!raw.writableEnded) raw.end();
      // A client that reads nothing would hold its unsent data forever.
      setTimeout(() => raw.destroy(), 5000).unref();
    };
    const session: Session = {
      heartbeat: () => write(': keep-alive\n\n'),
      close(code, message) {
        if (finished) return;
        raw.write(`event: error\ndata: ${JSON.stringify(errorBody(code, message))}\n\n`);
        finish();
      },
    };
    const write = (text: string) => {
      if (finished) return;
      raw.write(text);
      if (raw.writableLength > maxBufferedBytes) {
        session.close(SSE_CLIENT_TOO_SLOW, `the client left ${raw.writableLength} bytes unread, more than the limit of ${maxBufferedBytes}; reconnect with Last-Event-ID ${lastId} to resume`);
      }
    };
    const closeWith = (error: unknown) => session.close(isRekeyError(error) ? error.code : 'INTERNAL', error instanceof Error ? error.message : String(error));
    sessions.add(session);
    request.raw.on('close', finish);

    raw.write(`retry: ${retryMs}\nid: ${lastId}\nevent: ready\ndata: ${JSON.stringify({ fromPosition: cursor.index === Infinity ? cursor.position + 1 : cursor.position, lastEventId: lastId, head })}\n\n`);
    try {
      const stopFollowing = await follower.follow(cursor, {
        next: ({ change, id }) => {
          if (finished || !passes(change)) return;
          lastId = id;
          write(`id: ${id}\nevent: change\ndata: ${JSON.stringify(change)}\n\n`);
        },
        error: closeWith,
        // A replay sends no more until the client has taken half of what waits.
        drained: () => {
          if (finished || raw.writableLength <= maxBufferedBytes / 2) return undefined;
          return new Promise<void>((resolve) => {
            const done = () => {
              clearTimeout(timer);
              raw.off('drain', done);
              raw.off('close', done);
              resolve();
            };
            const timer = setTimeout(() => {
              session.close(SSE_CLIENT_TOO_SLOW, `the client read nothing for ${drainTimeoutMs} ms while ${raw.writableLength} bytes waited; reconnect with Last-Event-ID ${lastId} to resume`);
              done();
            }, drainTimeoutMs);
            raw.on('drain', done);
            raw.on('close', done);
          });
        },
      });
      if (finished) stopFollowing();
      else stop = stopFollowing;
    } catch (error) {
      closeWith(error);
    }
  });

  const streams: ChangeStreams = {
    open: () => sessions.size,
    close() {
      clearInterval(heartbeat);
      for (const session of [...sessions]) session.close(SERVER_STOPPING, 'the server is stopping; reconnect with Last-Event-ID to resume where the stream ended');
      hub.close();
    },
  };
  return streams;
}
