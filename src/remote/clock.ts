/**
 * The service's clock. In production it is the system clock. For demonstrations and tests the
 * service can run a test clock that moves `speed` times faster than real time from a chosen start
 * (`rekey serve --test-clock --clock-speed 259200` runs a day in a third of a second), so a renewal
 * that takes months happens in seconds with real agents talking to it.
 *
 * A test clock is only ever enabled by a flag: `fastClock` refuses to start in production mode
 * (NODE_ENV=production) unless the caller says it was asked for one (`testClock: true`), and
 * `serviceClockFromOptions` refuses `--clock-speed`/`--clock-start` without `--test-clock`.
 *
 * Its instants are whole seconds (certificate times are) and never go backwards. It can be held:
 * while a machine builds a certificate for "now" (the first key of a group, or a renewal key) the
 * clock stands still, so the certificate's notBefore is still the service's now when it arrives.
 * A hold has a lease in real time, so an agent that dies half-way cannot stop the clock for good.
 */
import { RekeyError, errorKind } from '../kernel/errors.js';
import type { Clock, Instant } from '../domain/time.js';

export const TEST_CLOCK_REFUSED = errorKind('TEST_CLOCK_REFUSED', 'validation');

/** The most a test clock may speed time up: a century in about three real hours. */
export const MAX_CLOCK_SPEED = 1_000_000;

export interface ServiceClock extends Clock {
  /** Service seconds per real second: 1 for the system clock. */
  readonly speed: number;
  /** True for a test clock (started by --test-clock). */
  readonly test: boolean;
  /**
   * Stops the clock at its current (whole-second) instant until the returned release is called or
   * `leaseMs` of real time pass, whichever is first. Holds nest. Absent on the system clock.
   */
  hold?(leaseMs: number): () => void;
  /** True while a hold is in force. */
  readonly held?: boolean;
}

export interface FastClockOptions {
  /** The service instant at which the clock starts (default: the real time now). */
  readonly start?: Instant;
  /** How many times faster than real time it runs (default 1). */
  readonly speed?: number;
  /** The flag that enables a test clock; required in production mode. */
  readonly testClock?: boolean;
  /** Environment to read NODE_ENV from (default process.env). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Real milliseconds, monotonic (default performance.now); injectable for tests. */
  readonly realNow?: () => number;
}

export interface FastClock extends ServiceClock {
  hold(leaseMs: number): () => void;
  readonly held: boolean;
}

export function fastClock(options: FastClockOptions = {}): FastClock {
  const env = options.env ?? process.env;
  if (env.NODE_ENV === 'production' && options.testClock !== true) {
    throw new RekeyError(
      TEST_CLOCK_REFUSED,
      'a test clock is refused in production mode (NODE_ENV=production) unless it is asked for with --test-clock',
      {},
      'validation',
    );
  }
  const speed = options.speed ?? 1;
  if (typeof speed !== 'number' || !Number.isFinite(speed) || speed <= 0 || speed > MAX_CLOCK_SPEED) {
    throw new RekeyError(TEST_CLOCK_REFUSED, `clock speed ${String(speed)} is not a number above 0 and at most ${MAX_CLOCK_SPEED}`, { speed: String(speed) }, 'validation');
  }
  const realNow = options.realNow ?? (() => performance.now());
  const start = wholeSecond(options.start ?? Date.now());
  let base = start;
  let realBase = realNow();
  let last = start;
  let frozen: Instant | null = null;
  const holds = new Set<object>();

  const running = (): Instant => wholeSecond(base + (realNow() - realBase) * speed);
  const now = (): Instant => {
    const at = frozen ?? running();
    if (at > last) last = at;
    return last;
  };

  return {
    speed,
    test: true,
    now,
    get held() {
      return frozen !== null;
    },
    hold(leaseMs: number): () => void {
      if (frozen === null) frozen = now();
      const token = {};
      holds.add(token);
      let released = false;
      const release = (): void => {
        if (released) return;
        released = true;
        clearTimeout(timer);
        holds.delete(token);
        if (holds.size === 0 && frozen !== null) {
          // Time stood still: it goes on from where it stopped, never jumping over the hold.
          base = frozen;
          realBase = realNow();
          frozen = null;
        }
      };
      const timer = setTimeout(release, Math.max(1, leaseMs));
      timer.unref?.();
      return release;
    },
  };
}

/** The production clock: real time, no speed-up, no holds. */
export function systemServiceClock(): ServiceClock {
  return { speed: 1, test: false, now: () => Date.now() };
}

export interface ServiceClockFlags {
  readonly testClock?: boolean;
  /** --clock-speed */
  readonly clockSpeed?: number;
  /** --clock-start */
  readonly clockStart?: Instant;
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/**
 * The clock `rekey serve` runs on: the system clock, or a test clock when --test-clock is given.
 * --clock-speed and --clock-start mean nothing without --test-clock and are refused.
 */
export function serviceClockFromOptions(flags: ServiceClockFlags): ServiceClock {
  if (!flags.testClock) {
    if (flags.clockSpeed !== undefined || flags.clockStart !== undefined) {
      throw new RekeyError(TEST_CLOCK_REFUSED, '--clock-speed and --clock-start run a test clock, which only --test-clock enables', {}, 'validation');
    }
    return systemServiceClock();
  }
  return fastClock({ start: flags.clockStart, speed: flags.clockSpeed ?? 1, testClock: true, env: flags.env });
}

function wholeSecond(at: Instant): Instant {
  return Math.floor(at / 1000) * 1000;
}
