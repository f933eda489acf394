/**
 * ISO-8601 instants. Rows hold instants as ISO strings (`2026-01-01T00:00:00Z`,
 * `2026-01-01T00:00:00.000Z`, or with an offset); a string is an instant when it has a date, a time
 * and a zone (Z or +hh:mm). Unquoted $filter literals may also be a bare date (midnight UTC).
 */

const FULL = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(?:[Zz]|([+-])(\d{2}):(\d{2}))$/;
const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

function epoch(year: number, month: number, day: number, hour: number, minute: number, second: number, ms: number): number | undefined {
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  const date = new Date(0);
  // setUTCFullYear, unlike Date.UTC, does not map years 0-99 to 1900-1999.
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, ms);
  return date.getTime();
}

/** Milliseconds since the epoch of a full ISO-8601 instant with a zone, or undefined. */
export function parseInstant(text: string): number | undefined {
  const m = FULL.exec(text);
  if (m === null) return undefined;
  const fraction = (m[7] ?? '').padEnd(3, '0').slice(0, 3);
  const time = epoch(Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] ?? 0), Number(fraction));
  if (time === undefined) return undefined;
  if (m[8] === undefined) return time;
  const offsetHours = Number(m[9]);
  const offsetMinutes = Number(m[10]);
  if (offsetHours > 23 || offsetMinutes > 59) return undefined;
  const sign = m[8] === '-' ? -1 : 1;
  return time - sign * (offsetHours * 60 + offsetMinutes) * 60_000;
}

/** An unquoted $filter instant literal: a full instant, or a bare date taken as midnight UTC. */
export function parseInstantLiteral(text: string): number | undefined {
  const m = DATE_ONLY.exec(text);
  if (m !== null) return epoch(Number(m[1]), Number(m[2]), Number(m[3]), 0, 0, 0, 0);
  return parseInstant(text);
}
