/**
 * The order every table is listed in, in one place so the projection, the read model and every
 * query list rows the same way.
 */
import type { Row } from '../tables.js';

/** The order every table is listed in: by name, then by id (a deleted group's name may come back). */
export function byNameThenId(a: Row, b: Row, idColumn: string): number {
  const x = String(a.name);
  const y = String(b.name);
  if (x !== y) return x < y ? -1 : 1;
  const i = String(a[idColumn]);
  const j = String(b[idColumn]);
  return i < j ? -1 : i > j ? 1 : 0;
}
