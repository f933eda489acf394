/**
 * Dates and numbers as Excel and "Export to Excel" write them in a locale (src/fleet/localeValues.ts),
 * checked against values worked out by hand, not against Intl's own output.
 */
import { describe, expect, it } from 'vitest';
import { canonicalLocale, isTimeZone, parseExportInstant, parseLocalWholeNumber } from '../../src/fleet/localeValues.js';

const at = (text: string, locale = 'en-US', timeZone = 'UTC') => {
  const ms = parseExportInstant(text, { locale, timeZone });
  return ms === undefined ? undefined : new Date(ms).toISOString();
};

describe('localized instants', () => {
  it('reads month-first (en-US, AM/PM), day-first (en-GB, fr-FR, de-DE) and ISO with a space', () => {
    expect(at('10/7/2029 12:00 AM')).toBe('2029-10-07T00:00:00.000Z');
    expect(at('10/7/2029 12:30 PM')).toBe('2029-10-07T12:30:00.000Z');
    expect(at('10/7/2029 12:00 AM', 'en-GB')).toBe('2029-07-10T00:00:00.000Z');
    expect(at('07/10/2029 18:05', 'fr-FR')).toBe('2029-10-07T18:05:00.000Z');
    expect(at('07.10.2029 00:00', 'de-DE')).toBe('2029-10-07T00:00:00.000Z');
    expect(at('15-5-2030 06:58:21', 'nl-NL')).toBe('2030-05-15T06:58:21.000Z');
    expect(at('2030-05-15 06:58:21')).toBe('2030-05-15T06:58:21.000Z');
    expect(at('2030-05-15T06:58:21.5+02:00')).toBe('2030-05-15T04:58:21.500Z');
    expect(at('2030-05-15')).toBe('2030-05-15T00:00:00.000Z');
  });

  it('takes values without a zone in the given time zone (summer time in Paris is UTC+2)', () => {
    expect(at('5/15/2030 6:58 PM', 'en-US', 'Europe/Paris')).toBe('2030-05-15T16:58:00.000Z');
    expect(at('2030-01-15 06:00', 'en-US', 'Europe/Paris')).toBe('2030-01-15T05:00:00.000Z');
    expect(at('2030-05-15T06:00:00Z', 'en-US', 'Europe/Paris')).toBe('2030-05-15T06:00:00.000Z');
  });

  it('refuses what is no date in that locale', () => {
    expect(at('13/7/2029')).toBeUndefined(); // month 13 in en-US
    expect(at('2/30/2030')).toBeUndefined();
    expect(at('2030-02-30')).toBeUndefined();
    expect(at('10/7/2029 13:00 PM')).toBeUndefined();
    expect(at('next tuesday')).toBeUndefined();
  });
});

describe('localized whole numbers', () => {
  it('reads the grouping of each locale', () => {
    expect(parseLocalWholeNumber('525,600', 'en-US')).toBe(525600);
    expect(parseLocalWholeNumber('525.600', 'de-DE')).toBe(525600);
    expect(parseLocalWholeNumber('525\u202f600', 'fr-FR')).toBe(525600);
    expect(parseLocalWholeNumber('525 600', 'fr-FR')).toBe(525600);
    expect(parseLocalWholeNumber('2,628,000.00', 'en-US')).toBe(2628000);
    expect(parseLocalWholeNumber('525600', 'de-DE')).toBe(525600);
  });

  it('refuses a grouping the locale does not use and fractions', () => {
    expect(parseLocalWholeNumber('525.600', 'en-US')).toBeUndefined();
    expect(parseLocalWholeNumber('1,2,3', 'en-US')).toBeUndefined();
    expect(parseLocalWholeNumber('525,5', 'de-DE')).toBeUndefined();
    expect(parseLocalWholeNumber('12e3', 'en-US')).toBeUndefined();
  });

  it('knows locales and time zones', () => {
    expect(canonicalLocale('de-de')).toBe('de-DE');
    expect(canonicalLocale('not a locale!')).toBeUndefined();
    expect(isTimeZone('Europe/Paris')).toBe(true);
    expect(isTimeZone('Mars/Olympus')).toBe(false);
  });
});
