/**
 * The scenario's `settings`: the pickup delay (R4) and the check-in interval (R21), each with its
 * default and range.
 */
import { DEFAULT_CHECK_IN_INTERVAL_MINUTES, DEFAULT_PICKUP_DELAY_MINUTES } from '../../domain/periods.js';
import type { Scenario } from '../scenario.js';
import { SCENARIO_FIELDS, SETTING_MAX_MINUTES, SETTING_MIN_MINUTES } from './fields.js';
import type { ReadContext } from './readContext.js';
import { type Slot, readInteger, readObject } from './read.js';

export function readSettings(ctx: ReadContext, slot: Slot): Scenario['settings'] {
  const fields = readObject(ctx.problems, slot, SCENARIO_FIELDS.settings, 'the settings');
  const minutes = (key: string, fallback: number) =>
    (fields && readInteger(ctx.problems, fields.slot(key), { min: SETTING_MIN_MINUTES, max: SETTING_MAX_MINUTES, unit: 'minutes' })) ??
    fallback;
  return {
    pickupDelayMinutes: minutes('pickupDelayMinutes', DEFAULT_PICKUP_DELAY_MINUTES),
    checkInIntervalMinutes: minutes('checkInIntervalMinutes', DEFAULT_CHECK_IN_INTERVAL_MINUTES),
  };
}
