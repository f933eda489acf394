/**
 * The change feed (Dataverse's "When a row is added, modified or deleted"): an rxjs Observable of row
 * changes, computed from the event log itself.
 *
 * - Exactly once and in log order: it folds the store's `subscribeAll`, which delivers every event
 *   exactly once in position order, into its own projection; within one event, changes come in
 *   table order, then by row name.
 * - From any position: a subscriber from position p first restores the projection as of p - 1 (from
 *   the nearest snapshot when given a read model) and then emits every change made by events at p
 *   and after, the stored ones first and then live. Without `fromPosition` it starts after the
 *   head of the log at subscription time (only new changes).
 * - Filters: change types; `columns` (an Update fires only when one of them changed; Create and
 *   Delete always pass); an OData `$filter` evaluated on the row after the change (for a Delete, on
 *   the row as it was last).
 */
// The one class, not the whole library: rxjs's index loads every operator (a third of the CLI's start-up).
import { Observable } from 'rxjs/internal/Observable';
import { RekeyError, errorKind } from '../src/kernel/errors.js';
import { evaluateFilter, ODATA_UNKNOWN_COLUMN, parseFilter, type FilterAst } from '../src/query/index.js';
import type { ChangeType, RowChange } from './projection.js';
import { Projection } from './projection.js';
import { isReadModel } from './readModel.js';
import { replayInto } from './replay.js';
import { POSITION_OUT_OF_RANGE, storeOf, type ProjectionSource } from './timeTravel.js';
import { COLUMNS, requireTable, TABLES, type TableName } from './tables.js';

export const CHANGE_TYPE_UNKNOWN = errorKind('CHANGE_TYPE_UNKNOWN', 'validation');
const CHANGE_TYPES: readonly ChangeType[] = ['Create', 'Update', 'Delete'];

export interface ChangeFeedOptions {
  /** Tables to watch (default: all three). */
  readonly tables?: TableName | string | readonly string[];
  /** Change types to emit (default: all; case-insensitive). */
  readonly changeTypes?: readonly string[];
  /** Emit an Update only when one of these columns changed. */
  readonly columns?: readonly string[];
  /** An OData $filter evaluated on the row after the change. */
  readonly filter?: string;
  /** First position whose changes are emitted (default: the head at subscription time + 1). */
  readonly fromPosition?: number;
}

/** The feed's change records: the row change, with its table, position and instant. */
export type FeedChange = RowChange;

/**
 * The feed's filters as a predicate on row changes: validates the options at once (unknown tables,
 * columns, change types and bad filters throw here). For consumers that fold the log themselves and
 * filter per client (the HTTP change feed, src/api/changeHub.ts).
 */
export function changeFilter(options: Omit<ChangeFeedOptions, 'fromPosition'> = {}): (change: RowChange) => boolean {
  const tables: TableName[] = options.tables === undefined
    ? [...TABLES]
    : (typeof options.tables === 'string' ? [options.tables] : [...options.tables]).map(requireTable);
  const types = new Set<ChangeType>((options.changeTypes ?? CHANGE_TYPES).map((type) => {
    const found = CHANGE_TYPES.find((known) => known.toLowerCase() === String(type).toLowerCase());
    if (!found) {
      throw new RekeyError(CHANGE_TYPE_UNKNOWN, `unknown change type ${JSON.stringify(type)}; the change types are: ${CHANGE_TYPES.join(', ')}`, { changeType: type }, 'validation');
    }
    return found;
  }));
  const columns = options.columns ? [...options.columns] : undefined;
  for (const column of columns ?? []) {
    if (!tables.some((table) => COLUMNS[table].includes(column))) {
      throw new RekeyError(
        ODATA_UNKNOWN_COLUMN,
        `unknown column '${column}' in ${tables.join(', ')}; columns are: ${[...new Set(tables.flatMap((table) => COLUMNS[table]))].join(', ')}`,
        { column, tables },
        'validation',
      );
    }
  }
  const filters = new Map<TableName, FilterAst>();
  if (options.filter !== undefined) {
    for (const table of tables) filters.set(table, parseFilter(options.filter, COLUMNS[table], table));
  }
  const wanted = new Set<TableName>(tables);

  return (change: RowChange): boolean => {
    if (!wanted.has(change.table) || !types.has(change.changeType)) return false;
    if (columns && change.changeType === 'Update' && !columns.some((column) => change.changedColumns.includes(column))) return false;
    const filter = filters.get(change.table);
    return filter === undefined || evaluateFilter(filter, change.row);
  };
}

/**
 * Validates the options at once (unknown tables, columns, change types and bad filters throw here,
 * before anything is subscribed) and returns a cold Observable: each subscription runs its own feed.
 */
export function changeFeed(source: ProjectionSource, options: ChangeFeedOptions = {}): Observable<FeedChange> {
  const store = storeOf(source);
  const passes = changeFilter(options);
  const fromPosition = options.fromPosition;
  if (fromPosition !== undefined && (!Number.isSafeInteger(fromPosition) || fromPosition < 1)) {
    throw new RekeyError(POSITION_OUT_OF_RANGE, `fromPosition ${String(fromPosition)} is not a whole number >= 1`, { fromPosition }, 'validation');
  }

  return new Observable<FeedChange>((subscriber) => {
    let closed = false;
    let inner: { unsubscribe(): void } | undefined;
    void (async () => {
      const from = fromPosition ?? (await store.headPosition()) + 1;
      // The projection as of `from - 1` (or the head, if the log is shorter).
      const target = Math.min(from - 1, await store.headPosition());
      let projection: Projection;
      if (isReadModel(source)) projection = await source.projectionAt({ position: target });
      else {
        projection = new Projection();
        await replayInto(store, projection, { position: target });
      }
      if (closed) return;
      const emit = (change: RowChange) => {
        if (!closed && change.position >= from && passes(change)) subscriber.next(change);
      };
      inner = store.subscribeAll(projection.position + 1).subscribe({
        next: (event) => {
          try {
            projection.apply(event, emit);
          } catch (error) {
            subscriber.error(error);
          }
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      });
      if (closed) inner.unsubscribe();
    })().catch((error: unknown) => subscriber.error(error));
    return () => {
      closed = true;
      inner?.unsubscribe();
    };
  });
}
