/** The read side of rekey: tables, the read model and its runner, time travel, the change feed and queries. */
export {
  CHOICES, COLUMNS, CONNECTION_COLUMNS, FORMATTED, GROUP_COLUMNS, ID_COLUMN, MACHINE_COLUMNS, TABLES, TABLE_UNKNOWN,
  isTableName, requireTable,
  type ConnectionStatus, type RenewalState, type Row, type TableName,
} from './tables.js';
export { heartbeatAt, type HeartbeatBasis } from './heartbeat.js';
export { nextRenewalDate, renderConnectionRow, renderGroupRow, renderMachineRow, type MachineFacts, type RowMeta } from './rows.js';
export { PROJECTION_VERSION, Projection, type ChangeSink, type ChangeType, type PersistedRow, type RowChange } from './projection.js';
export { replayInto, type ReplayLimit } from './replay.js';
export {
  DEFAULT_SNAPSHOT_EVERY, defaultReadModelFile, isReadModel, openReadModel,
  type CatchUpOptions, type CatchUpProgress, type Checkpoint, type ProgressCallback, type ReadModel, type ReadModelOptions, type StoredRowInfo,
} from './readModel.js';
export {
  AS_OF_CONFLICT, POSITION_OUT_OF_RANGE, ROW_NOT_FOUND,
  diffTables, projectionAt, rowHistory, tableAt, tablesAt, tablesDiff,
  type PointInTime, type ProjectionSource, type ResolvedPoint, type RowDifference, type RowHistory, type RowHistoryEntry, type TablesAt, type TablesDiff,
} from './timeTravel.js';
export { CHANGE_TYPE_UNKNOWN, changeFeed, changeFilter, type ChangeFeedOptions, type FeedChange } from './feed.js';
export { queryTable, type ODataResponse, type QueryTableOptions } from './query.js';
