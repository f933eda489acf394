/**
 * When a machine is online and when it checks in (R21, docs/scenarios.md): inside its half-open
 * online intervals, every `interval` minutes counted from the interval's start.
 */
import type { Instant } from '../domain/time.js';
import { MS_PER_MINUTE } from '../domain/time.js';
import type { Interval } from './scenario.js';

/** Index of the first interval that ends after `at` (binary search: fleets have years of intervals). */
function firstEndingAfter(online: readonly Interval[], at: Instant): number {
  let low = 0;
  let high = online.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (online[middle]!.to <= at) low = middle + 1;
    else high = middle;
  }
  return low;
}

export function intervalAt(online: readonly Interval[], at: Instant): Interval | null {
  const interval = online[firstEndingAfter(online, at)];
  return interval && interval.from <= at ? interval : null;
}

/** The first check-in at or after `from` (strictly after when `exclusive`); null if never online again. */
export function nextCheckIn(online: readonly Interval[], from: Instant, intervalMinutes: number, exclusive: boolean): Instant | null {
  const step = intervalMinutes * MS_PER_MINUTE;
  for (let i = firstEndingAfter(online, from); i < online.length; i++) {
    const interval = online[i]!;
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
