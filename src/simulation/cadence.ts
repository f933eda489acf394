/**
 * When a machine is online and when it checks in (R21, DESIGN.md section 6): inside its half-open
 * online intervals, every `interval` minutes counted from the interval's start.
 */
import type { Instant } from '../domain/time.js';
import { MS_PER_MINUTE } from '../domain/time.js';
import type { Interval } from './scenario.js';

export function intervalAt(online: readonly Interval[], at: Instant): Interval | null {
  for (const interval of online) {
    if (interval.from > at) return null;
    if (at < interval.to) return interval;
  }
  return null;
}

/** The first check-in at or after `from` (strictly after when `exclusive`); null if never online again. */
export function nextCheckIn(online: readonly Interval[], from: Instant, intervalMinutes: number, exclusive: boolean): Instant | null {
  const step = intervalMinutes * MS_PER_MINUTE;
  for (const interval of online) {
    if (interval.to <= from) continue;
    const start = interval.from;
    let k = from <= start ? 0 : Math.ceil((from - start) / step);
    let at = start + k * step;
    if (exclusive && at <= from) {
      k += 1;
      at = start + k * step;
    }
    if (at < interval.to) return at;
  }
  return null;
}
