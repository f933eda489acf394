/** The $filter syntax tree: plain data (JSON-serialisable), built only by `parseFilter`. */

export type ComparisonOperator = 'eq' | 'ne' | 'gt' | 'ge' | 'lt' | 'le';
export type StringFunction = 'contains' | 'startswith' | 'endswith';

export const COMPARISON_OPERATORS: readonly ComparisonOperator[] = ['eq', 'ne', 'gt', 'ge', 'lt', 'le'];
export const STRING_FUNCTIONS: readonly StringFunction[] = ['contains', 'startswith', 'endswith'];

export type Literal =
  | { readonly kind: 'literal'; readonly type: 'string'; readonly value: string }
  | { readonly kind: 'literal'; readonly type: 'number'; readonly value: number }
  | { readonly kind: 'literal'; readonly type: 'boolean'; readonly value: boolean }
  | { readonly kind: 'literal'; readonly type: 'null'; readonly value: null }
  /** An unquoted ISO-8601 instant (or bare date, midnight UTC); `time` is milliseconds since the epoch. */
  | { readonly kind: 'literal'; readonly type: 'instant'; readonly value: string; readonly time: number }
  /** An unquoted GUID, as Dataverse accepts for ids and lookups; compared like a string. */
  | { readonly kind: 'literal'; readonly type: 'guid'; readonly value: string };

export interface ColumnRef {
  readonly kind: 'column';
  readonly name: string;
}

export type Operand = ColumnRef | Literal;

/** Dataverse's query functions rekey evaluates (Microsoft.Dynamics.CRM.<name>). */
export const QUERY_FUNCTIONS = ['On', 'OnOrBefore', 'OnOrAfter', 'LastXDays', 'NextXDays', 'LastXHours', 'NextXHours', 'Today', 'Yesterday', 'Tomorrow', 'In', 'NotIn'] as const;
export type QueryFunction = (typeof QUERY_FUNCTIONS)[number];
export const QUERY_FUNCTION_PREFIX = 'Microsoft.Dynamics.CRM.';

export type FilterAst =
  | { readonly kind: 'and'; readonly operands: readonly FilterAst[] }
  | { readonly kind: 'or'; readonly operands: readonly FilterAst[] }
  | { readonly kind: 'not'; readonly operand: FilterAst }
  | { readonly kind: 'compare'; readonly op: ComparisonOperator; readonly left: Operand; readonly right: Operand }
  | { readonly kind: 'function'; readonly name: StringFunction; readonly column: string; readonly value: string }
  /**
   * A Dataverse query function on a column: `values` are its PropertyValue (an instant for On..,
   * a count for LastXDays..) or PropertyValues (In, NotIn). Relative ones are evaluated against
   * the instant of the read (the as-of instant), never the wall clock.
   */
  | { readonly kind: 'query'; readonly name: QueryFunction; readonly column: string; readonly values: readonly Literal[] };

/** The columns a filter reads, in order of first appearance. */
export function filterColumns(ast: FilterAst): string[] {
  const seen = new Set<string>();
  const visit = (node: FilterAst): void => {
    switch (node.kind) {
      case 'and':
      case 'or':
        node.operands.forEach(visit);
        return;
      case 'not':
        visit(node.operand);
        return;
      case 'compare':
        for (const side of [node.left, node.right]) if (side.kind === 'column') seen.add(side.name);
        return;
      case 'function':
      case 'query':
        seen.add(node.column);
        return;
    }
  };
  visit(ast);
  return [...seen];
}
