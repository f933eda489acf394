/**
 * parseInstant's fast path for canonical ISO text must agree with luxon (the general path) on every
 * instant, and must leave everything else to luxon: other forms, offsets and impossible dates.
 */
import fc from 'fast-check';
import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { parseInstant, toIso } from '../../src/domain/time.js';

const luxon = (text: string) => {
  const parsed = DateTime.fromISO(text, { zone: 'utc', setZone: true });
  return parsed.isValid ? parsed.toMillis() : null;
};

describe('toIso', () => {
  const dateIso = (at: number) => new Date(at).toISOString();

  it('writes exactly what Date writes, for every instant Date can hold, seen again or not', () => {
    const anyInstant = fc.oneof(
      fc.integer({ min: -8.64e15, max: 8.64e15 }),
      fc.integer({ min: Date.UTC(1970, 0, 1), max: Date.UTC(2100, 0, 1) }),
      fc.double({ min: -8.64e15, max: 8.64e15, noNaN: true }),
    );
    fc.assert(fc.property(anyInstant, fc.integer({ min: -86_400_000, max: 86_400_000 }), (at, offset) => {
      expect(toIso(at)).toBe(dateIso(at));
      // The same day again (now memoised), and a neighbouring instant on it or the next.
      expect(toIso(at)).toBe(dateIso(at));
      const near = at + offset;
      if (Math.abs(near) <= 8.64e15) expect(toIso(near)).toBe(dateIso(near));
    }), { numRuns: 5_000 });
  });

  it('writes the edges of a day, of the four-digit years and of the epoch as Date does', () => {
    const edges = [0, -1, 1, 86_399_999, 86_400_000, -86_400_000, -86_400_001, Date.UTC(9999, 11, 31, 23, 59, 59, 999),
      Date.UTC(9999, 11, 31, 23, 59, 59, 999) + 1, Date.UTC(0, 0, 1) - 1, -62_167_219_200_000, 8.64e15, -8.64e15, 0.5, -0.5, -0];
    for (const at of edges) {
      expect(toIso(at)).toBe(dateIso(at));
      expect(toIso(at)).toBe(dateIso(at));
    }
  });

  it('refuses what Date refuses', () => {
    expect(() => toIso(Number.NaN)).toThrow(RangeError);
    expect(() => toIso(8.64e15 + 1)).toThrow(RangeError);
  });
});

describe('parseInstant', () => {
  it('reads canonical text (toIso) exactly as luxon does, for instants from year 1000 to 9999', () => {
    fc.assert(fc.property(fc.integer({ min: Date.UTC(1000, 0, 1), max: Date.UTC(9999, 11, 31, 23, 59, 59, 999) }), (at) => {
      const text = toIso(at);
      expect(parseInstant(text)).toBe(at);
      expect(parseInstant(text)).toBe(luxon(text));
    }), { numRuns: 2_000 });
  });

  it('reads other ISO forms through luxon: no milliseconds, offsets, no zone (UTC)', () => {
    expect(parseInstant('2026-01-01T00:00:00Z')).toBe(Date.UTC(2026, 0, 1));
    expect(parseInstant('2026-01-01T02:00:00.000+02:00')).toBe(Date.UTC(2026, 0, 1));
    expect(parseInstant('2026-01-01T00:00:00.000')).toBe(Date.UTC(2026, 0, 1));
    expect(parseInstant('2026-06-23')).toBe(Date.UTC(2026, 5, 23));
  });

  it('refuses an impossible date of canonical length that Date.parse would roll over, naming it', () => {
    expect(Number.isFinite(Date.parse('2026-02-30T00:00:00.000Z'))).toBe(true); // why the round trip is needed
    expect(() => parseInstant('2026-02-30T00:00:00.000Z', 'pickupAt')).toThrow(/INSTANT_INVALID|pickupAt "2026-02-30T00:00:00.000Z" is not an ISO-8601 instant; expected e.g. 2026-01-01T00:00:00Z/);
    expect(() => parseInstant('Tue, 03 Mar 2026 00:00:00 G')).toThrow(/is not an ISO-8601 instant/);
    expect(() => parseInstant('xxxxxxxxxxxxxxxxxxxxxxxx')).toThrow(/is not an ISO-8601 instant/);
  });
});
