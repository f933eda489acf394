/**
 * Dates and numbers as an export shows them. The Dataverse Web API writes ISO-8601 UTC instants and
 * bare integers; "Export to Excel" and Excel's own CSV write them as the user's locale formats them:
 * "10/7/2029 12:00 AM" and "525,600" in en-US, "07.10.2029 00:00" and "525.600" in de-DE,
 * "07/10/2029 00:00" and "525 600" in fr-FR, and ISO with a space, "2030-05-15 06:58:21", in others.
 * The order of day, month and year and the separators of a locale come from Intl (Node's ICU), so
 * any BCP 47 locale works. Values without a zone are taken in the given IANA time zone (default UTC).
 */
import { DateTime } from 'luxon';

export const DEFAULT_LOCALE = 'en-US';
export const DEFAULT_TIME_ZONE = 'UTC';
/** Tried in this order when neither `--locale` nor the file says which locale wrote it. */
export const CANDIDATE_LOCALES = ['en-US', 'en-GB', 'de-DE', 'fr-FR', 'nl-NL', 'es-ES', 'it-IT'] as const;

export interface ValueFormat {
  readonly locale: string;
  readonly timeZone: string;
}

interface LocaleShape {
  readonly order: readonly ('day' | 'month' | 'year')[];
  readonly group: string;
  readonly decimal: string;
}

const SHAPES = new Map<string, LocaleShape>();

function shapeOf(locale: string): LocaleShape {
  let shape = SHAPES.get(locale);
  if (shape === undefined) {
    const parts = new Intl.DateTimeFormat(locale, { year: 'numeric', month: 'numeric', day: 'numeric', timeZone: 'UTC' }).formatToParts(new Date(Date.UTC(2033, 10, 22)));
    const order = parts.map((p) => p.type).filter((t): t is 'day' | 'month' | 'year' => t === 'day' || t === 'month' || t === 'year');
    const number = new Intl.NumberFormat(locale).formatToParts(1234567.5);
    shape = {
      order: order.length === 3 ? order : ['month', 'day', 'year'],
      group: number.find((p) => p.type === 'group')?.value ?? ',',
      decimal: number.find((p) => p.type === 'decimal')?.value ?? '.',
    };
    SHAPES.set(locale, shape);
  }
  return shape;
}

/** The canonical tag of a BCP 47 locale (`de-de` -> `de-DE`), or undefined when it is not one. */
export function canonicalLocale(tag: string): string | undefined {
  try {
    const [canonical] = Intl.getCanonicalLocales(tag);
    return canonical !== undefined && Intl.DateTimeFormat.supportedLocalesOf([canonical]).length > 0 ? canonical : undefined;
  } catch {
    return undefined;
  }
}

/** True when `zone` is an IANA time zone (or UTC) luxon knows. */
export function isTimeZone(zone: string): boolean {
  return DateTime.now().setZone(zone).isValid;
}

/**
 * A whole number as the locale writes it: `525600`, `525,600` (en-US), `525.600` (de-DE),
 * `525 600` (fr-FR, any space), optionally with a zero fraction (`525,600.00`). Undefined otherwise.
 */
export function parseLocalWholeNumber(text: string, locale: string): number | undefined {
  const { group, decimal } = shapeOf(locale);
  let t = text.trim().replace(/[\s\u00a0\u202f]/g, group.trim() === '' ? '' : ' ');
  const fraction = t.lastIndexOf(decimal);
  if (fraction >= 0 && /^0+$/.test(t.slice(fraction + decimal.length))) t = t.slice(0, fraction);
  const sign = t.startsWith('-') ? -1 : 1;
  if (sign < 0) t = t.slice(1);
  const groups = group.trim() === '' ? [' '] : [group, ' ', "'"];
  let digits: string | undefined;
  if (/^\d+$/.test(t)) digits = t;
  else {
    for (const g of groups) {
      if (!t.includes(g)) continue;
      const parts = t.split(g);
      if (/^\d{1,3}$/.test(parts[0]!) && parts.slice(1).every((p) => /^\d{3}$/.test(p))) digits = parts.join('');
    }
  }
  if (digits === undefined || digits.length > 16) return undefined;
  const value = sign * Number(digits);
  return Number.isSafeInteger(value) ? value : undefined;
}

const ISO_LIKE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$/i;
const LOCAL = /^(\d{1,4})([./-])(\d{1,2})\2(\d{1,4})(?:[ T,]+(\d{1,2})[:.](\d{2})(?:[:.](\d{2}))?\s*([AaPp])?\.?\s*(?:[Mm]\.?)?)?$/;

/**
 * An instant as an export writes it: ISO-8601 with `T` or a space, with or without seconds, a
 * fraction or a zone; or a date (and time) in the locale's order of day, month and year, with a
 * 24-hour or AM/PM time. Values without a zone are in `format.timeZone`. Undefined when it is neither.
 */
export function parseExportInstant(text: string, format: ValueFormat): number | undefined {
  const t = text.trim();
  const iso = ISO_LIKE.exec(t);
  if (iso) {
    const [, y, mo, d, h, mi, s, frac, zone] = iso;
    const ms = frac === undefined ? 0 : Number(frac.padEnd(3, '0').slice(0, 3));
    const offset = zone === undefined ? format.timeZone : zone.toUpperCase() === 'Z' ? 'UTC' : `UTC${zone.length === 5 ? `${zone.slice(0, 3)}:${zone.slice(3)}` : zone}`;
    return build(Number(y), Number(mo), Number(d), Number(h ?? 0), Number(mi ?? 0), Number(s ?? 0), ms, offset);
  }
  const local = LOCAL.exec(t);
  if (!local) return undefined;
  const [, a, , b, c, h, mi, s, ampm] = local;
  const numbers = [a!, b!, c!];
  let year: string, month: string, day: string;
  if (a!.length === 4) [year, month, day] = numbers as [string, string, string];
  else {
    const { order } = shapeOf(format.locale);
    const by = (part: 'day' | 'month' | 'year') => numbers[order.indexOf(part)]!;
    [year, month, day] = [by('year'), by('month'), by('day')];
  }
  if (year.length !== 4 && year.length !== 2) return undefined;
  let hour = Number(h ?? 0);
  if (ampm !== undefined) {
    if (hour < 1 || hour > 12) return undefined;
    hour = (hour % 12) + (ampm.toLowerCase() === 'p' ? 12 : 0);
  }
  return build(year.length === 2 ? 2000 + Number(year) : Number(year), Number(month), Number(day), hour, Number(mi ?? 0), Number(s ?? 0), 0, format.timeZone);
}

function build(year: number, month: number, day: number, hour: number, minute: number, second: number, millisecond: number, zone: string): number | undefined {
  const time = DateTime.fromObject({ year, month, day, hour, minute, second, millisecond }, { zone });
  // luxon normalises nothing out of range: an invalid date (2030-02-30, 25:00) is invalid.
  return time.isValid ? time.toMillis() : undefined;
}

/** 2030-06-01 18:30 as the locale writes it, for messages ("6/1/2030, 6:30 PM" in en-US). */
export function exampleInstant(locale: string): string {
  const format = new Intl.DateTimeFormat(locale, { year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: '2-digit', timeZone: 'UTC' });
  return format.format(new Date(Date.UTC(2030, 5, 1, 18, 30))).replace(/[\u202f\u00a0]/g, ' ');
}

/** 525600 as the locale groups it ("525,600" in en-US, "525.600" in de-DE), for messages. */
export function exampleNumber(locale: string): string {
  return new Intl.NumberFormat(locale).format(525600);
}

const DURATION = /^(.+?)\s*(minutes?|mins?|hours?|hrs?|days?|weeks?)$/i;
const UNIT_MINUTES: Readonly<Record<string, number>> = { min: 1, minute: 1, hour: 60, hr: 60, day: 1440, week: 10080 };

/**
 * Whole minutes as an export writes a Duration column: a whole number in the locale ("525,600"),
 * or a number with a unit ("365 days", "8,760 hours", "129600 minutes"). Undefined otherwise.
 */
export function parseMinutes(text: string, locale: string): number | undefined {
  const duration = DURATION.exec(text.trim());
  if (!duration) return parseLocalWholeNumber(text, locale);
  const amount = parseLocalWholeNumber(duration[1]!, locale);
  const unit = duration[2]!.toLowerCase().replace(/s$/, '');
  const factor = UNIT_MINUTES[unit === 'mins' ? 'min' : unit];
  return amount === undefined || factor === undefined ? undefined : amount * factor;
}
