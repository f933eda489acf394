/** Columns and annotations of Dataverse-like rows. */

export type Row = Record<string, unknown>;

export const FORMATTED_VALUE_SUFFIX = '@OData.Community.Display.V1.FormattedValue';

/** `statecode@OData.Community.Display.V1.FormattedValue` and other `<column>@<term>` keys, and `@odata.etag`. */
export function isAnnotationKey(key: string): boolean {
  return key.includes('@');
}

/** The table's columns as validation sees them: annotation keys never count. */
export function tableColumns(columns: readonly string[]): string[] {
  return columns.filter((column) => typeof column === 'string' && !isAnnotationKey(column));
}
