/**
 * A compact JSON form for a snapshot's long lists of same-shaped objects (machines, members, row
 * metadata, connections): the keys once, then one array of values per object. A snapshot is most of
 * a rebuild's writing and of an as-of query's parsing; without the repeated keys it is about a
 * third smaller, and every byte left out is one not stringified, written, read or parsed.
 *
 * Lossless or not used: a list whose objects do not all have the first one's keys in the same order,
 * or that holds an `undefined` (which JSON drops from an object but would turn into null in an
 * array), is kept as it is. `unpackObjects(packObjects(list))` is therefore always a list of objects
 * with the same keys, order and values.
 */

/** Keys once, a row of values per object; or the objects themselves. */
export type PackedObjects<T> = { readonly keys: readonly string[]; readonly rows: readonly unknown[][] } | { readonly objects: readonly T[] };

export function packObjects<T extends object>(list: readonly T[]): PackedObjects<T> {
  const first = list[0];
  if (first === undefined) return { objects: list };
  const keys = Object.keys(first);
  if (keys.includes('__proto__')) return { objects: list }; // an object literal would take it for the prototype
  const rows = new Array<unknown[]>(list.length);
  for (let i = 0; i < list.length; i++) {
    const object = list[i] as Record<string, unknown>;
    const row = new Array<unknown>(keys.length);
    let k = 0;
    // for-in walks own keys in order (plain data objects inherit no enumerable key).
    for (const key in object) {
      const value = object[key];
      if (key !== keys[k] || value === undefined) return { objects: list };
      row[k++] = value;
    }
    if (k !== keys.length) return { objects: list };
    rows[i] = row;
  }
  return { keys, rows };
}

/** One compiled maker per key list: objects built with a literal shape, as fast as JSON.parse builds them. */
const makers = new Map<string, (row: readonly unknown[]) => unknown>();

function makerOf(keys: readonly string[]): (row: readonly unknown[]) => unknown {
  const id = JSON.stringify(keys);
  let maker = makers.get(id);
  if (!maker) {
    maker = new Function('r', `return {${keys.map((key, k) => `${JSON.stringify(key)}: r[${k}]`).join(', ')}};`) as (row: readonly unknown[]) => unknown;
    makers.set(id, maker);
  }
  return maker;
}

export function unpackObjects<T>(packed: PackedObjects<T>): T[] {
  if ('objects' in packed) return [...packed.objects];
  const make = makerOf(packed.keys);
  const { rows } = packed;
  const out = new Array<T>(rows.length);
  for (let i = 0; i < rows.length; i++) out[i] = make(rows[i]!) as T;
  return out;
}
