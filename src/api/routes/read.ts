/**
 * Read endpoints beside OData, for the dashboard and for scripts:
 * - GET /api/tables[?asOf|position]            every table at once (with formatted values) and the log's span
 * - GET /api/history/<entityset>/<name-or-id>  every change of one row (as `rekey history --json`)
 * - GET /api/timeline/<group>[?asOf|position]  what a group's timeline draws
 * - GET /api/reminders[?asOf|position]         by when each machine must be online and each connection must run
 */
import type { FastifyInstance } from 'fastify';
import { TABLES, isTableName, rowHistory } from '../../../projections/index.js';
import { toIso } from '../../domain/time.js';
import type { ApiContext } from '../context.js';
import { resourceNotFound } from '../errors.js';
import { pointInTime, type Query } from '../params.js';
import { remindersFrom } from '../reminders.js';
import { renewalStarts } from '../renewals.js';
import { buildTimeline } from '../timeline.js';

export function readRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get('/api/tables', async (request) => {
    const snapshot = await ctx.tables(pointInTime(request.query as Query));
    const first = ctx.clock.firstInstant();
    const last = ctx.clock.logInstant();
    return {
      position: snapshot.position,
      instant: snapshot.instant,
      log: { head: await ctx.store.headPosition(), firstInstant: first === null ? null : toIso(first), lastInstant: last === null ? null : toIso(last) },
      tables: snapshot.tables,
    };
  });

  app.get('/api/history/:entityset/:nameOrId', async (request) => {
    const { entityset, nameOrId } = request.params as { entityset: string; nameOrId: string };
    if (!isTableName(entityset)) throw resourceNotFound(`Resource not found for the segment '${entityset.slice(0, 100)}'; the entity sets are: ${TABLES.join(', ')}`, {});
    return rowHistory(ctx.readModel, entityset, nameOrId);
  });

  app.get('/api/timeline/:group', async (request) => {
    const { group } = request.params as { group: string };
    const point = pointInTime(request.query as Query);
    return buildTimeline(ctx.readModel, await ctx.tables(point), point, group);
  });

  app.get('/api/reminders', async (request) => {
    const snapshot = await ctx.tables(pointInTime(request.query as Query));
    return remindersFrom(snapshot, await renewalStarts(ctx.store, snapshot));
  });
}
