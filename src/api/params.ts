/** Query-string values shared by the read endpoints: `asOf` / `position` (time travel) and lists. */
import { POSITION_OUT_OF_RANGE, type PointInTime } from '../../projections/index.js';
import { RekeyError } from '../kernel/errors.js';
import { parseInstant } from '../domain/time.js';
import { invalid } from './errors.js';

export type Query = Record<string, string | string[] | undefined>;

/** One value of a parameter; a parameter given twice is refused. */
export function single(query: Query, name: string): string | undefined {
  const value = query[name];
  if (Array.isArray(value)) throw invalid(`query parameter ${name} is given ${value.length} times; give it once`, { parameter: name });
  return value;
}

/** `?asOf=ISO` or `?position=N` (not both): the tables as of that instant or log position. */
export function pointInTime(query: Query): PointInTime {
  const asOf = single(query, 'asOf');
  const position = single(query, 'position');
  if (asOf !== undefined && position !== undefined) throw invalid('give asOf or position, not both', {});
  if (asOf !== undefined) return { asOf: parseInstant(asOf, 'asOf') };
  if (position !== undefined) {
    if (!/^\d{1,15}$/.test(position)) {
      throw new RekeyError(POSITION_OUT_OF_RANGE, `position ${JSON.stringify(position.slice(0, 40))} is not a whole number >= 0`, { position: position.slice(0, 40) }, 'validation');
    }
    return { position: Number(position) };
  }
  return {};
}

/** A comma-separated list (`columns=a,b`), also accepted as a repeated parameter. */
export function list(query: Query, name: string): string[] | undefined {
  const value = query[name];
  if (value === undefined) return undefined;
  const items = (Array.isArray(value) ? value : [value]).flatMap((item) => item.split(',')).map((item) => item.trim()).filter(Boolean);
  return items;
}

export function positiveInteger(name: string, text: string, maximum: number): number {
  if (!/^\d{1,15}$/.test(text) || Number(text) < 1 || Number(text) > maximum) {
    throw invalid(`${name} ${JSON.stringify(text.slice(0, 40))} is not a whole number from 1 to ${maximum}`, { parameter: name });
  }
  return Number(text);
}
