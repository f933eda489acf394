/**
 * R1, R2: bounds of the group key validity and expiry grace periods, in minutes.
 * R3, R5: when a key's renewal starts and when its renewal window ends. Pure integer-minute
 * arithmetic on instants, like cert-manager's renewal time.
 */
import { RekeyError, errorKind } from '../kernel/errors.js';
import { type Instant, plusMinutes } from './time.js';

export const MIN_VALIDITY_MINUTES = 129_600; // three 30-day months
export const MAX_VALIDITY_MINUTES = 2_628_000; // five 365-day years
export const DEFAULT_VALIDITY_MINUTES = MAX_VALIDITY_MINUTES;
export const MIN_GRACE_MINUTES = 64_800; // 45 days
export const DEFAULT_GRACE_MINUTES = 259_200; // six 30-day months
export const DEFAULT_PICKUP_DELAY_MINUTES = 1_440;
export const DEFAULT_CHECK_IN_INTERVAL_MINUTES = 1_440;

export const VALIDITY_OUT_OF_RANGE = errorKind('VALIDITY_OUT_OF_RANGE', 'validation');
export const GRACE_OUT_OF_RANGE = errorKind('GRACE_OUT_OF_RANGE', 'validation');
export const MINUTES_NOT_INTEGER = errorKind('MINUTES_NOT_INTEGER', 'validation');

export interface PeriodSettings {
  /** keyvalidityperiod, minutes */
  readonly validity: number;
  /** keyexpirygraceperiod, minutes */
  readonly grace: number;
}

export const DEFAULT_SETTINGS: PeriodSettings = { validity: DEFAULT_VALIDITY_MINUTES, grace: DEFAULT_GRACE_MINUTES };

function requireWholeMinutes(name: string, minutes: unknown): number {
  if (typeof minutes !== 'number' || !Number.isSafeInteger(minutes)) {
    throw new RekeyError(MINUTES_NOT_INTEGER, `${name} ${String(minutes)} is not a whole number of minutes`, {
      setting: name,
      value: minutes,
    });
  }
  return minutes;
}

/** R1 */
export function checkValidity(minutes: unknown): number {
  const value = requireWholeMinutes('keyValidityPeriod', minutes);
  if (value < MIN_VALIDITY_MINUTES) {
    throw new RekeyError(
      VALIDITY_OUT_OF_RANGE,
      `keyValidityPeriod ${value} is below the minimum of ${MIN_VALIDITY_MINUTES} minutes (three months)`,
      { value, minimum: MIN_VALIDITY_MINUTES },
    );
  }
  if (value > MAX_VALIDITY_MINUTES) {
    throw new RekeyError(
      VALIDITY_OUT_OF_RANGE,
      `keyValidityPeriod ${value} is above the maximum of ${MAX_VALIDITY_MINUTES} minutes (five years)`,
      { value, maximum: MAX_VALIDITY_MINUTES },
    );
  }
  return value;
}

/** R2: the grace is bounded by half of the validity it will be used with. */
export function checkGrace(minutes: unknown, validity: number): number {
  const value = requireWholeMinutes('keyExpiryGracePeriod', minutes);
  if (value < MIN_GRACE_MINUTES) {
    throw new RekeyError(
      GRACE_OUT_OF_RANGE,
      `keyExpiryGracePeriod ${value} is below the minimum of ${MIN_GRACE_MINUTES} minutes (45 days)`,
      { value, minimum: MIN_GRACE_MINUTES },
    );
  }
  const maximum = Math.floor(validity / 2);
  if (value > maximum) {
    throw new RekeyError(
      GRACE_OUT_OF_RANGE,
      `keyExpiryGracePeriod ${value} is above the maximum of ${maximum} minutes (half of keyValidityPeriod ${validity})`,
      { value, maximum, validity },
    );
  }
  return value;
}

/** The lifetime facts of one key that the renewal schedule depends on. */
export interface KeyLifetime {
  /** c: the key's creation instant (notBefore). */
  readonly createdAt: Instant;
  /** v_key: the validity the key was issued with, minutes. */
  readonly validity: number;
}

export function keyNotAfter(key: KeyLifetime): Instant {
  return plusMinutes(key.createdAt, key.validity);
}

/**
 * R3/R5: S = c + min(v_key, v) - g, never before the settings in force were picked up.
 * With unchanged settings this is the seed's Key Creation Date + (validity - grace).
 */
export function renewalStart(key: KeyLifetime, settings: PeriodSettings, settingsPickedUpAt: Instant): Instant {
  const due = plusMinutes(key.createdAt, Math.min(key.validity, settings.validity) - settings.grace);
  return Math.max(due, settingsPickedUpAt);
}

/** R3: E = min(c + v_key, S + g): the window never outlives the key, and lasts at most g. */
export function renewalEnd(key: KeyLifetime, start: Instant, grace: number): Instant {
  return Math.min(keyNotAfter(key), plusMinutes(start, grace));
}
