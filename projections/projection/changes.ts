/**
 * What the fold hands out: the row changes of each event (the change feed, "When a row is added,
 * modified or deleted") and the rows as the read model stores them. Kept apart so a reader of the
 * feed or the file finds the shapes without reading the fold.
 */
import type { HeartbeatBasis } from '../heartbeat.js';
import type { Row, TableName } from '../tables.js';

export type ChangeType = 'Create' | 'Update' | 'Delete';

/** One row change ("When a row is added, modified or deleted"). */
export interface RowChange {
  readonly table: TableName;
  readonly changeType: ChangeType;
  readonly id: string;
  readonly name: string;
  /** The whole row after the change; for a Delete, the row as it was last. */
  readonly row: Row;
  /** Columns whose value differs between the row rendered at the event's instant before and after it; every column for a Create, none for a Delete. */
  readonly changedColumns: readonly string[];
  readonly position: number;
  readonly occurredAt: string;
  /** Type of the event that made the change. */
  readonly event: string;
}

export type ChangeSink = (change: RowChange) => void;

/** A row as the read model stores it. */
export interface PersistedRow {
  readonly table: TableName;
  readonly id: string;
  readonly name: string;
  /** A deleted row keeps its last values so that its history can still be found by name. */
  readonly deleted: boolean;
  readonly row: Row;
  /** Machines only: the session facts `lastheartbeatdate` is evaluated from at query time (R21). */
  readonly heartbeat: HeartbeatBasis | null;
  readonly streams: readonly string[];
}
