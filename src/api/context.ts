/**
 * What every route works with: the store, the engine (the write side), the read model (the read
 * side, following the store live), the clock, and two small helpers: commands run one at a time, and
 * tables as of a point in time are remembered for a while (the dashboard's time slider asks for the
 * same instants again and again).
 */
import {
  projectionAt,
  TABLES,
  type PointInTime,
  type ReadModel,
  type Row,
  type TableName,
} from '../../projections/index.js';
import { toIso, type Instant } from '../domain/time.js';
import type { Engine } from '../engine/engine.js';
import type { EventStore } from '../store/port.js';
import type { LogClock } from './clock.js';

export interface TablesSnapshot {
  /** Position of the last event included. */
  readonly position: number;
  /** The instant derived columns are evaluated at (null for an empty log). */
  readonly instant: string | null;
  readonly tables: Record<TableName, Row[]>;
}

export interface ApiContext {
  readonly store: EventStore;
  readonly engine: Engine;
  readonly readModel: ReadModel;
  readonly clock: LogClock;
  /** Runs commands one after the other: the engine's working memory is shared. */
  serialize<T>(task: () => Promise<T>): Promise<T>;
  /** Every table as of a point in time (the head of the log when neither is given). */
  tables(point: PointInTime): Promise<TablesSnapshot>;
}

const CACHE_SIZE = 48;

/**
 * The head tables, each read from the read model only when a route asks for it: a query of one
 * table after a write does not render the other two (and the read model itself reads only the rows
 * written since its last look).
 */
function lazyTables(read: (table: TableName) => Row[]): Record<TableName, Row[]> {
  const tables = {} as Record<TableName, Row[]>;
  for (const table of TABLES) {
    let rows: Row[] | undefined;
    Object.defineProperty(tables, table, { enumerable: true, get: () => (rows ??= read(table)) });
  }
  return tables;
}

export function createContext(parts: { store: EventStore; engine: Engine; readModel: ReadModel; clock: LogClock }): ApiContext {
  let queue: Promise<unknown> = Promise.resolve();
  const cache = new Map<string, Promise<TablesSnapshot>>();

  const compute = async (point: PointInTime): Promise<TablesSnapshot> => {
    if (point.asOf === undefined && point.position === undefined) {
      const checkpoint = await parts.readModel.sync();
      return {
        position: checkpoint.position,
        instant: checkpoint.instant === null ? null : toIso(checkpoint.instant),
        tables: lazyTables((table) => parts.readModel.rows(table, checkpoint.instant)),
      };
    }
    const { projection, renderAt } = await projectionAt(parts.readModel, point);
    return { position: projection.position, instant: renderAt === null ? null : toIso(renderAt as Instant), tables: projection.tables(renderAt) };
  };

  return {
    ...parts,
    serialize<T>(task: () => Promise<T>): Promise<T> {
      const run = queue.then(task, task);
      queue = run.catch(() => undefined);
      return run;
    },
    async tables(point: PointInTime): Promise<TablesSnapshot> {
      // The same point gives the same tables until the log grows, so the head is part of the key.
      const head = await parts.store.headPosition();
      const key = `${String(point.asOf ?? '')}|${String(point.position ?? '')}|${head}`;
      let entry = cache.get(key);
      if (!entry) {
        entry = compute(point);
        cache.set(key, entry);
        entry.catch(() => cache.delete(key));
        while (cache.size > CACHE_SIZE) cache.delete(cache.keys().next().value!);
      } else {
        cache.delete(key);
        cache.set(key, entry);
      }
      return entry;
    },
  };
}
