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

/** ISO-8601 UTC with millisecond precision, the only form instants take outside the domain. */
export function toIso(at: Instant): string {
  return new Date(at).toISOString();
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
