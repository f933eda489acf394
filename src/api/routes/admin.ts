/**
 * What `rekey group|machine|connection ... --server URL`, `rekey explain` and `rekey plan` ask a
 * running service, beside the commands of commands.ts:
 * - POST /api/dryrun  {"commands": [{"command": NAME, ...fields}], "forecast": true}: the commands
 *   decided on a copy of the state; nothing is written (src/admin/dryRun.ts). Credentials are never
 *   part of it: a dry run encrypts a placeholder.
 * - GET /api/explain/<entityset>/<name-or-id>[?asOf]: why the row is as it is (src/explain/explain.ts).
 * - GET /api/plan[?asOf]: the admin checklist as a plan (src/plan/plan.ts).
 */
import type { FastifyInstance } from 'fastify';
import { TABLES, isTableName } from '../../../projections/index.js';
import type { AdminCommand } from '../../admin/commands.js';
import { dryRun } from '../../admin/dryRun.js';
import { explain } from '../../explain/explain.js';
import { makePlan } from '../../plan/plan.js';
import type { ApiContext } from '../context.js';
import { invalid, resourceNotFound } from '../errors.js';
import { pointInTime, type Query } from '../params.js';
import { COMMAND_SCHEMAS } from './commands.js';

const SECRETS = new Set(['username', 'password', 'commandId']);

/** Each admin command's body schema with its name as `command`, without credentials. */
function dryRunItem(command: string, schema: { properties: Record<string, unknown>; required: readonly string[] }) {
  const properties = Object.fromEntries(Object.entries(schema.properties).filter(([key]) => !SECRETS.has(key)));
  return {
    type: 'object',
    properties: { command: { const: command }, ...properties },
    required: ['command', ...schema.required.filter((key) => !SECRETS.has(key))],
    additionalProperties: false,
  };
}

const DRY_RUN_SCHEMA = {
  type: 'object',
  properties: {
    commands: {
      type: 'array',
      minItems: 1,
      maxItems: 20,
      items: {
        oneOf: [
          ...Object.entries(COMMAND_SCHEMAS).filter(([name]) => name !== 'processDue').map(([name, schema]) => dryRunItem(name, schema)),
          dryRunItem('runConnection', { properties: { connection: { type: 'string', minLength: 1, maxLength: 100 } }, required: ['connection'] }),
        ],
      },
    },
    forecast: { type: 'boolean' },
  },
  required: ['commands'],
  additionalProperties: false,
} as const;

function instantOnly(query: Query): number | undefined {
  const point = pointInTime(query);
  if (point.position !== undefined) throw invalid('give asOf (an instant), not position: an explanation and a plan are made as of an instant', { parameter: 'position' });
  return point.asOf === undefined ? undefined : Number(point.asOf);
}

export function adminRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.post('/api/dryrun', { schema: { body: DRY_RUN_SCHEMA } }, async (request) => {
    const body = request.body as { commands: AdminCommand[]; forecast?: boolean };
    return dryRun(ctx.store, body.commands, { clock: ctx.clock, forecast: body.forecast !== false, pickupDelayMinutes: ctx.engine.pickupDelayMinutes });
  });

  app.get('/api/explain/:entityset/:nameOrId', async (request) => {
    const { entityset, nameOrId } = request.params as { entityset: string; nameOrId: string };
    if (!isTableName(entityset)) throw resourceNotFound(`Resource not found for the segment '${entityset.slice(0, 100)}'; the entity sets are: ${TABLES.join(', ')}`, {});
    return explain(ctx.store, entityset, nameOrId, instantOnly(request.query as Query));
  });

  app.get('/api/plan', async (request) => makePlan(ctx.store, instantOnly(request.query as Query)));
}
