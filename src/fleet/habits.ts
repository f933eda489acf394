/**
 * Online habits: when a machine is expected to be online, as half-open intervals [from, to) (R21).
 *
 * A habits file is a JSON object from a machine name or a glob pattern (`*` any run of characters,
 * `?` one character; case-sensitive) to a habit:
 * - `"always"`: online all the time;
 * - `"offline"`: never online;
 * - `"officeHours"`: Monday to Friday, 08:00 to 18:00 UTC;
 * - `{"daysPerMonth": N}` (1..28): online N whole days (UTC) in each calendar month, spread evenly
 *   from the 1st (day 1 + floor(k * days / N) for k = 0..N-1);
 * - `{"offlineUntil": ISO}`: offline until that instant, then always online;
 * - `{"intervals": [{"from": ISO, "to": ISO}, ...]}`: exactly these intervals (sorted, not overlapping).
 * An exact name wins over patterns; among patterns, the first in file order that matches wins.
 * Machines no entry matches follow the default (docs/forecast.md): offline when their
 * lastheartbeatdate is more than 10,080 minutes before the start (or empty), else always online.
 */
import { readFileSync } from 'node:fs';
import { RekeyError, errorKind } from '../kernel/errors.js';
import { MS_PER_MINUTE, parseInstant, toIso, type Instant } from '../domain/time.js';
import { parseJsonText } from '../simulation/loader/jsonText.js';
import type { Interval } from '../simulation/scenario.js';

export const HABITS_INVALID = errorKind('HABITS_INVALID', 'validation');
/** docs/forecast.md: a machine silent for longer than this before the start is assumed offline. */
export const DEFAULT_OFFLINE_AFTER_MINUTES = 10_080;

export type Habit =
  | { readonly kind: 'always' }
  | { readonly kind: 'offline' }
  | { readonly kind: 'officeHours' }
  | { readonly kind: 'daysPerMonth'; readonly days: number }
  | { readonly kind: 'offlineUntil'; readonly at: Instant }
  | { readonly kind: 'intervals'; readonly intervals: readonly Interval[] };

export interface HabitEntry {
  /** The name or glob pattern as written. */
  readonly pattern: string;
  readonly habit: Habit;
  readonly regex: RegExp | null;
}

export interface Habits {
  readonly file: string | null;
  readonly entries: readonly HabitEntry[];
}

export const NO_HABITS: Habits = { file: null, entries: [] };

/** What one machine is assumed to do, and why. */
export interface MachineHabit {
  readonly machine: string;
  readonly habit: string;
  /** `habits file (PATTERN)` or `default (...)`. */
  readonly source: string;
  readonly intervals: readonly Interval[];
}

export function describeHabit(habit: Habit): string {
  switch (habit.kind) {
    case 'always': return 'always online';
    case 'offline': return 'offline';
    case 'officeHours': return 'office hours (Mon-Fri 08:00-18:00 UTC)';
    case 'daysPerMonth': return `${habit.days} days per month`;
    case 'offlineUntil': return `offline until ${toIso(habit.at)}, then always online`;
    case 'intervals': return `${habit.intervals.length} explicit interval${habit.intervals.length === 1 ? '' : 's'}`;
  }
}

export function loadHabitsFile(file: string): Habits {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw habitsInvalid(file, [`$: cannot read the file (${error instanceof Error ? error.message : String(error)})`]);
  }
  const parsed = parseJsonText(text);
  if (!parsed.ok) {
    const where = parsed.line === undefined ? '' : ` at line ${parsed.line}, column ${parsed.column}`;
    throw habitsInvalid(file, [`$: is not valid JSON${where} (${parsed.message}); expected an object from machine names or patterns to habits`]);
  }
  return parseHabits(parsed.value, file);
}

const SHAPES = '"always", "offline", "officeHours", {"daysPerMonth": N}, {"offlineUntil": ISO} or {"intervals": [{"from", "to"}]}';

export function parseHabits(value: unknown, file: string | null = null): Habits {
  const problems: string[] = [];
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw habitsInvalid(file, [`$: is ${Array.isArray(value) ? 'an array' : value === null ? 'null' : `a ${typeof value}`}; expected an object from machine names or glob patterns to habits, e.g. {"FIN-*": "officeHours"}`]);
  }
  const entries: HabitEntry[] = [];
  for (const [pattern, raw] of Object.entries(value)) {
    const path = `$[${JSON.stringify(pattern)}]`;
    if (pattern.length === 0 || pattern.length > 200) {
      problems.push(`${path}: is not a machine name or pattern; expected 1 to 200 characters`);
      continue;
    }
    const habit = parseHabit(raw, path, problems);
    if (habit) entries.push({ pattern, habit, regex: /[*?]/.test(pattern) ? globToRegex(pattern) : null });
  }
  if (problems.length > 0) throw habitsInvalid(file, problems);
  return { file, entries };
}

function parseHabit(raw: unknown, path: string, problems: string[]): Habit | undefined {
  if (raw === 'always' || raw === 'offline' || raw === 'officeHours') return { kind: raw };
  if (typeof raw === 'string') {
    problems.push(`${path}: ${JSON.stringify(raw)} is not a habit; expected ${SHAPES}`);
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    problems.push(`${path}: is ${Array.isArray(raw) ? 'an array' : raw === null ? 'null' : `a ${typeof raw}`}; expected ${SHAPES}`);
    return undefined;
  }
  const keys = Object.keys(raw);
  const fields = raw as Record<string, unknown>;
  if (keys.length !== 1 || !['daysPerMonth', 'offlineUntil', 'intervals'].includes(keys[0]!)) {
    problems.push(`${path}: has the keys ${keys.map((k) => JSON.stringify(k)).join(', ') || '(none)'}; expected exactly one of "daysPerMonth", "offlineUntil", "intervals"`);
    return undefined;
  }
  if (keys[0] === 'daysPerMonth') {
    const days = fields.daysPerMonth;
    if (typeof days !== 'number' || !Number.isInteger(days) || days < 1 || days > 28) {
      problems.push(`${path}.daysPerMonth: ${JSON.stringify(days)} is not a whole number of days from 1 to 28`);
      return undefined;
    }
    return { kind: 'daysPerMonth', days };
  }
  if (keys[0] === 'offlineUntil') {
    const at = instantOf(fields.offlineUntil, `${path}.offlineUntil`, problems);
    return at === undefined ? undefined : { kind: 'offlineUntil', at };
  }
  const list = fields.intervals;
  if (!Array.isArray(list) || list.length === 0) {
    problems.push(`${path}.intervals: is not a non-empty array; expected [{"from": ISO, "to": ISO}, ...]`);
    return undefined;
  }
  const intervals: Interval[] = [];
  let ok = true;
  list.forEach((item, i) => {
    const where = `${path}.intervals[${i}]`;
    if (typeof item !== 'object' || item === null || Array.isArray(item) || Object.keys(item).sort().join() !== 'from,to') {
      problems.push(`${where}: is not {"from": ISO, "to": ISO}`);
      ok = false;
      return;
    }
    const from = instantOf((item as Record<string, unknown>).from, `${where}.from`, problems);
    const to = instantOf((item as Record<string, unknown>).to, `${where}.to`, problems);
    if (from === undefined || to === undefined) {
      ok = false;
      return;
    }
    if (to <= from) {
      problems.push(`${where}.to: ${toIso(to)} is not after from ${toIso(from)}`);
      ok = false;
      return;
    }
    const previous = intervals.at(-1);
    if (previous && from < previous.to) {
      problems.push(`${where}: [${toIso(from)}, ${toIso(to)}) starts before the previous interval ends (${toIso(previous.to)}); expected sorted intervals that do not overlap`);
      ok = false;
      return;
    }
    intervals.push({ from, to });
  });
  return ok ? { kind: 'intervals', intervals } : undefined;
}

function instantOf(value: unknown, path: string, problems: string[]): Instant | undefined {
  try {
    if (typeof value !== 'string') throw new Error();
    return parseInstant(value);
  } catch {
    problems.push(`${path}: ${JSON.stringify(value)} is not an ISO-8601 instant; expected e.g. 2031-01-01T00:00:00Z`);
    return undefined;
  }
}

function globToRegex(pattern: string): RegExp {
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

function habitsInvalid(file: string | null, problems: readonly string[]): RekeyError {
  const subject = file === null ? 'habits' : `habits file ${file}`;
  return new RekeyError(HABITS_INVALID, `${subject} is invalid (${problems.length} ${problems.length === 1 ? 'problem' : 'problems'}):\n${problems.slice(0, 20).join('\n')}`, { problems: [...problems] }, 'validation');
}

/** The entry for a machine: its exact name first, then the first pattern that matches. */
export function habitEntryFor(habits: Habits, machine: string): HabitEntry | undefined {
  return habits.entries.find((e) => e.regex === null && e.pattern === machine) ?? habits.entries.find((e) => e.regex !== null && e.regex.test(machine));
}

/**
 * Every machine's habit and expected online intervals over [start, until): from the habits file or,
 * failing that, the default. Intervals that end at or before `start` are dropped; one running at
 * `start` keeps its own start (check-ins fall on its cadence, R21).
 */
export function machineHabits(
  habits: Habits,
  machines: readonly { readonly name: string; readonly lastHeartbeatAt: Instant | null }[],
  start: Instant,
  until: Instant,
): MachineHabit[] {
  return machines.map(({ name, lastHeartbeatAt }) => {
    const entry = habitEntryFor(habits, name);
    if (entry) {
      return { machine: name, habit: describeHabit(entry.habit), source: `habits file (${entry.pattern})`, intervals: intervalsOf(entry.habit, start, until) };
    }
    const silent = lastHeartbeatAt === null || start - lastHeartbeatAt > DEFAULT_OFFLINE_AFTER_MINUTES * MS_PER_MINUTE;
    const why = lastHeartbeatAt === null
      ? 'default: no lastheartbeatdate'
      : silent
        ? `default: lastheartbeatdate ${toIso(lastHeartbeatAt)} is more than ${DEFAULT_OFFLINE_AFTER_MINUTES.toLocaleString('en-US')} minutes before the start`
        : `default: lastheartbeatdate ${toIso(lastHeartbeatAt)} is within ${DEFAULT_OFFLINE_AFTER_MINUTES.toLocaleString('en-US')} minutes of the start`;
    const habit: Habit = silent ? { kind: 'offline' } : { kind: 'always' };
    return { machine: name, habit: describeHabit(habit), source: why, intervals: intervalsOf(habit, start, until) };
  });
}

const DAY = 86_400_000;

/** A habit's intervals that reach into [start, until); `until` itself may lie inside the last one. */
export function intervalsOf(habit: Habit, start: Instant, until: Instant): Interval[] {
  const end = Math.max(until, start) + DAY;
  switch (habit.kind) {
    case 'always':
      return [{ from: start, to: end }];
    case 'offline':
      return [];
    case 'offlineUntil':
      return habit.at >= end ? [] : [{ from: Math.max(habit.at, start), to: end }];
    case 'intervals':
      return habit.intervals.filter((i) => i.to > start && i.from < end);
    case 'officeHours': {
      const out: Interval[] = [];
      for (let day = Math.floor(start / DAY) * DAY; day < end; day += DAY) {
        const weekday = new Date(day).getUTCDay();
        if (weekday === 0 || weekday === 6) continue;
        const from = day + 8 * 3_600_000;
        const to = day + 18 * 3_600_000;
        if (to > start) out.push({ from, to });
      }
      return out;
    }
    case 'daysPerMonth': {
      const out: Interval[] = [];
      const first = new Date(start);
      for (let year = first.getUTCFullYear(), month = first.getUTCMonth(); Date.UTC(year, month, 1) < end; month === 11 ? (year++, month = 0) : month++) {
        const days = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
        const picked = new Set<number>();
        for (let k = 0; k < habit.days; k++) picked.add(1 + Math.floor((k * days) / habit.days));
        for (const d of [...picked].sort((a, b) => a - b)) {
          const from = Date.UTC(year, month, d);
          const previous = out.at(-1);
          if (from + DAY <= start) continue;
          if (previous && previous.to === from) out[out.length - 1] = { from: previous.from, to: from + DAY };
          else out.push({ from, to: from + DAY });
        }
      }
      return out;
    }
  }
}
