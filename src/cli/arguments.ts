/** Parsing of command-line values, with errors that name the option, the value and the allowed range. */
import { ARGUMENT_INVALID, RekeyError } from '../kernel/errors.js';
import { parseInstant, type Instant } from '../domain/time.js';

export function parseInteger(option: string, text: string, minimum: number, maximum: number): number {
  const value = /^-?\d{1,16}$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < minimum || value > maximum) {
    throw new RekeyError(ARGUMENT_INVALID, `${option} ${JSON.stringify(text.slice(0, 100))} is not an integer from ${minimum} to ${maximum}`, { option, value: text.slice(0, 100) }, 'validation');
  }
  return value;
}

export function parseInstantArgument(option: string, text: string): Instant {
  try {
    return parseInstant(text, option);
  } catch (error) {
    throw new RekeyError(ARGUMENT_INVALID, (error as Error).message, { option }, 'validation');
  }
}
