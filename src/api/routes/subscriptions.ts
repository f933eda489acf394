/**
 * Webhook subscriptions (src/api/webhooks.ts):
 * - POST   /api/subscriptions                 {url, table, changeType?, columns?, filter?, fromPosition?, secret?} -> 201
 *                                              with the signing secret, shown this once
 * - GET    /api/subscriptions                 every subscription, with delivery counts
 * - GET    /api/subscriptions/<id>
 * - GET    /api/subscriptions/<id>/deliveries the delivery log: every attempt, its status and error
 * - DELETE /api/subscriptions/<id>            -> 204
 */
import type { FastifyInstance } from 'fastify';
import type { WebhookManager } from '../webhooks.js';

const LIST = { type: ['string', 'array'], items: { type: 'string', minLength: 1, maxLength: 200 }, maxItems: 100 } as const;

export const SUBSCRIPTION_SCHEMA = {
  type: 'object',
  properties: {
    url: { type: 'string', minLength: 1, maxLength: 2000 },
    table: { type: 'string', minLength: 1, maxLength: 100 },
    changeType: LIST,
    columns: LIST,
    filter: { type: 'string', maxLength: 10_000 },
    fromPosition: { type: 'integer', minimum: 1 },
    secret: { type: 'string', minLength: 1, maxLength: 200 },
  },
  required: ['url', 'table'],
  additionalProperties: false,
} as const;

export function subscriptionRoutes(app: FastifyInstance, webhooks: WebhookManager): void {
  app.post('/api/subscriptions', { schema: { body: SUBSCRIPTION_SCHEMA } }, async (request, reply) => {
    const created = await webhooks.create(request.body as Parameters<WebhookManager['create']>[0]);
    void reply.code(201).header('location', `/api/subscriptions/${created.id}`);
    return created;
  });
  app.get('/api/subscriptions', async () => ({ value: webhooks.list() }));
  app.get('/api/subscriptions/:id', async (request) => webhooks.get((request.params as { id: string }).id));
  app.get('/api/subscriptions/:id/deliveries', async (request) => ({ value: webhooks.deliveries((request.params as { id: string }).id) }));
  app.delete('/api/subscriptions/:id', async (request, reply) => {
    webhooks.remove((request.params as { id: string }).id);
    void reply.code(204);
  });
}
