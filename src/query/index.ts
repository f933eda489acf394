/** The OData query surface of the tables (docs/api.md, docs/projections.md). */
export {
  COMPARISON_OPERATORS,
  STRING_FUNCTIONS,
  filterColumns,
  type ColumnRef,
  type ComparisonOperator,
  type FilterAst,
  type Literal,
  type Operand,
  type StringFunction,
} from './ast.js';
export { FORMATTED_VALUE_SUFFIX, isAnnotationKey, tableColumns, type Row } from './columns.js';
export { ODATA_INVALID_COUNT, ODATA_INVALID_TOP, ODATA_SYNTAX, ODATA_UNKNOWN_COLUMN, type QueryOption } from './errors.js';
export { evaluateFilter } from './evaluator.js';
export { parseInstant, parseInstantLiteral } from './instant.js';
export { parseCount, parseOrderBy, parseSelect, parseTop, type OrderByItem, type SortDirection } from './options.js';
export { MAX_FILTER_DEPTH, parseFilter } from './parser.js';
export { runQuery, type QueryRequest, type QueryResult } from './query.js';
