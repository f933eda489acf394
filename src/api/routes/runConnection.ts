/**
 * POST /api/commands/runConnection {"connection": NAME}: asks for one run of a connection (`rekey
 * connection run NAME --server URL`). The run waits in the service's run queue for the first machine
 * of the target that holds a key the credentials are encrypted to; that machine decrypts them
 * locally, runs, and reports (ConnectionRun, and ConnectionReencrypted during a renewal, R14). A
 * connection that needs fixing cannot run: the failure is recorded at once and `runId` is null (R18).
 */
import type { FastifyInstance } from 'fastify';
import { eventView } from '../../admin/eventView.js';
import type { EventStore } from '../../store/port.js';
import type { RunQueue } from '../../remote/runQueue.js';

const BODY = {
  type: 'object',
  properties: { connection: { type: 'string', minLength: 1, maxLength: 100 }, commandId: { type: 'string', minLength: 1, maxLength: 200 } },
  required: ['connection'],
  additionalProperties: false,
} as const;

export function runConnectionRoute(app: FastifyInstance, runs: RunQueue, store: EventStore): void {
  app.post('/api/commands/runConnection', { schema: { body: BODY } }, async (request) => {
    const { connection } = request.body as { connection: string };
    const before = await store.headPosition();
    const { runId } = await runs.request(connection);
    const position = await store.headPosition();
    const events = position > before ? await store.readAll(before + 1, position - before) : [];
    return {
      command: 'runConnection',
      runId,
      events: events.map((event) => ({ position: event.position, stream: event.stream, type: event.type, occurredAt: event.metadata.occurredAt, data: eventView(event).data })),
      position,
    };
  });
}
