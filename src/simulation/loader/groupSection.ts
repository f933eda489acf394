/**
 * A machine group of the scenario: its unique name, password, and key periods checked by the
 * domain's own R1 (validity) and R2 (grace at most half the validity) with their defaults.
 */
import {
  DEFAULT_GRACE_MINUTES,
  DEFAULT_VALIDITY_MINUTES,
  MAX_VALIDITY_MINUTES,
  MIN_GRACE_MINUTES,
  MIN_VALIDITY_MINUTES,
  checkGrace,
  checkValidity,
} from '../../domain/periods.js';
import { isRekeyError } from '../../kernel/errors.js';
import type { ScenarioGroup } from '../scenario.js';
import { SCENARIO_FIELDS } from './fields.js';
import type { ReadContext } from './readContext.js';
import { type Slot, readBoolean, readInteger, readObject, readText } from './read.js';

export function readGroup(ctx: ReadContext, slot: Slot): ScenarioGroup | undefined {
  const fields = readObject(ctx.problems, slot, SCENARIO_FIELDS.group, 'a machine group');
  if (!fields) return undefined;
  const name = ctx.declare(ctx.groups, fields.slot('name'), 'machine group name', null);
  const password = readText(ctx.problems, fields.slot('password'), 'the group password');
  const validity = readValidity(ctx, fields.slot('keyValidityPeriod'));
  const grace = readGrace(ctx, fields.slot('keyExpiryGracePeriod'), validity ?? DEFAULT_VALIDITY_MINUTES, validity !== undefined);
  const proactiveReencryption = readBoolean(ctx.problems, fields.slot('proactiveReencryption')) ?? false;
  if (name === undefined || password === undefined || validity === undefined || grace === undefined) return undefined;
  return { name, password, keyValidityPeriod: validity, keyExpiryGracePeriod: grace, proactiveReencryption };
}

/** R1 by the domain's checkValidity; the default when absent. */
function readValidity(ctx: ReadContext, slot: Slot): number | undefined {
  if (slot.value === undefined) return DEFAULT_VALIDITY_MINUTES;
  const minutes = readInteger(ctx.problems, slot, { unit: 'minutes' });
  if (minutes === undefined) return undefined;
  try {
    return checkValidity(minutes);
  } catch (error) {
    if (!isRekeyError(error)) throw error;
    ctx.problems.add(slot.path, error.message, `an integer from ${MIN_VALIDITY_MINUTES} to ${MAX_VALIDITY_MINUTES} (R1)`);
    return undefined;
  }
}

/** R2 by the domain's checkGrace, against the group's validity (when that one is valid). */
function readGrace(ctx: ReadContext, slot: Slot, validity: number, validityKnown: boolean): number | undefined {
  if (slot.value === undefined) {
    if (!validityKnown) return DEFAULT_GRACE_MINUTES;
    try {
      return checkGrace(DEFAULT_GRACE_MINUTES, validity);
    } catch (error) {
      if (!isRekeyError(error)) throw error;
      ctx.problems.add(
        slot.path,
        `is missing, and its default ${DEFAULT_GRACE_MINUTES} is above half of keyValidityPeriod ${validity}`,
        `keyExpiryGracePeriod from ${MIN_GRACE_MINUTES} to ${Math.floor(validity / 2)} (R2)`,
      );
      return undefined;
    }
  }
  const minutes = readInteger(ctx.problems, slot, { unit: 'minutes' });
  if (minutes === undefined) return undefined;
  try {
    return checkGrace(minutes, validityKnown ? validity : MAX_VALIDITY_MINUTES);
  } catch (error) {
    if (!isRekeyError(error)) throw error;
    const maximum = Math.floor((validityKnown ? validity : MAX_VALIDITY_MINUTES) / 2);
    ctx.problems.add(slot.path, error.message, `an integer from ${MIN_GRACE_MINUTES} to ${maximum}, half of keyValidityPeriod (R2)`);
    return undefined;
  }
}
