/**
 * Instants and durations. Inside the domain an instant is a number of milliseconds since the Unix
 * epoch (UTC) and every duration is a whole number of minutes, as the seed's Dataverse columns are.
 * Calendar arithmetic is never used: the seed's "five years" is 2,628,000 minutes, not
 * `plus({years: 5})` (2,629,440 minutes across a leap day).
 */
import { DateTime } from 'luxon';
import { RekeyError, errorKind } from '../kernel/errors.js';

export type Instant = number;
export const MS_PER_MINUTE = 60_000;

export const INSTANT_INVALID = errorKind('INSTANT_INVALID', 'validation');

export function plusMinutes(at: Instant, minutes: number): Instant {
  return at + minutes * MS_PER_MINUTE;
}

export function minutesBetween(from: Instant, to: Instant): number {
  return Math.floor((to - from) / MS_PER_MINUTE);
}

const MS_PER_DAY = 86_400_000;
const TWO_DIGITS = Array.from({ length: 60 }, (_, n) => String(n).padStart(2, '0'));
const THREE_DIGITS = Array.from({ length: 1000 }, (_, n) => String(n).padStart(3, '0'));
/** 'YYYY-MM-DDT' by day number since the epoch, for the days toIso has met (a memo: no clock, no I/O). */
const DAY_PREFIXES = new Map<number, string>();

/**
 * ISO-8601 UTC with millisecond precision, the only form instants take outside the domain: exactly
 * `new Date(at).toISOString()`. A replay renders millions of instants, most of them on days it has
 * rendered before, and Date's formatting costs about 1 us; the time of day is put together from
 * small tables instead and the date comes from the memo (whole milliseconds of four-digit years
 * only: anything else is Date's).
 */
export function toIso(at: Instant): string {
  const day = Math.floor(at / MS_PER_DAY);
  const prefix = DAY_PREFIXES.get(day);
  if (prefix === undefined || !Number.isInteger(at)) {
    const text = new Date(at).toISOString();
    if (text.length === 24 && Number.isInteger(at)) {
      if (DAY_PREFIXES.size >= 100_000) DAY_PREFIXES.clear();
      DAY_PREFIXES.set(day, text.slice(0, 11));
    }
    return text;
  }
  let ms = at - day * MS_PER_DAY;
  const hours = Math.floor(ms / 3_600_000);
  ms -= hours * 3_600_000;
  const minutes = Math.floor(ms / 60_000);
  ms -= minutes * 60_000;
  const seconds = Math.floor(ms / 1000);
  return `${prefix}${TWO_DIGITS[hours]}:${TWO_DIGITS[minutes]}:${TWO_DIGITS[seconds]}.${THREE_DIGITS[ms - seconds * 1000]}Z`;
}

/**
 * Parses an ISO-8601 instant. A string without an offset is read as UTC (never as the process time
 * zone, luxon's default), so the same file means the same instant on every machine.
 */
export function parseInstant(text: string, what = 'instant'): Instant {
  // Fast path for the canonical form every event stores (toIso's): Date.parse reads it exactly, and
  // the round trip rejects what it would read differently (2026-02-30 rolls over to March there).
  // Luxon costs about ten times as much, which a replay of a long log pays on every renewal event.
  if (typeof text === 'string' && text.length === 24) {
    const fast = Date.parse(text);
    if (Number.isFinite(fast) && toIso(fast) === text) return fast;
  }
  const parsed = typeof text === 'string' ? DateTime.fromISO(text, { zone: 'utc', setZone: true }) : null;
  if (!parsed || !parsed.isValid) {
    throw new RekeyError(
      INSTANT_INVALID,
      `${what} ${JSON.stringify(text)} is not an ISO-8601 instant; expected e.g. 2026-01-01T00:00:00Z`,
      { value: text },
    );
  }
  return parsed.toMillis();
}

/** The clock every part of rekey takes time from; simulations inject a virtual one. */
export interface Clock {
  now(): Instant;
}

/** A clock that only moves when told to: simulations and tests. */
export function manualClock(start: Instant): Clock & { set(at: Instant): void; advanceMinutes(m: number): void } {
  let current = start;
  return {
    now: () => current,
    set(at: Instant) {
      current = at;
    },
    advanceMinutes(minutes: number) {
      current = plusMinutes(current, minutes);
    },
  };
}
