/** Online habits: the file's forms, precedence, the default of docs/forecast.md, and bad files. */
import { describe, expect, it } from 'vitest';
import { isRekeyError, type RekeyError } from '../../src/kernel/errors.js';
import { parseInstant, toIso } from '../../src/domain/time.js';
import { habitEntryFor, intervalsOf, loadHabitsFile, machineHabits, parseHabits } from '../../src/fleet/habits.js';
import { tempDir, writeJson } from './support.js';

const at = (text: string) => parseInstant(text);
const show = (intervals: { from: number; to: number }[]) => intervals.map((i) => `${toIso(i.from)}/${toIso(i.to)}`);

describe('habits', () => {
  it('officeHours: Monday to Friday, 08:00 to 18:00 UTC', () => {
    // 2030-06-07 is a Friday.
    const intervals = intervalsOf({ kind: 'officeHours' }, at('2030-06-07T12:00:00Z'), at('2030-06-10T00:00:00Z'));
    expect(show(intervals).slice(0, 2)).toEqual(['2030-06-07T08:00:00.000Z/2030-06-07T18:00:00.000Z', '2030-06-10T08:00:00.000Z/2030-06-10T18:00:00.000Z']);
  });

  it('daysPerMonth: N whole days spread over each month', () => {
    const intervals = intervalsOf({ kind: 'daysPerMonth', days: 3 }, at('2030-06-01T00:00:00Z'), at('2030-06-30T00:00:00Z'));
    expect(show(intervals).slice(0, 3)).toEqual([
      '2030-06-01T00:00:00.000Z/2030-06-02T00:00:00.000Z',
      '2030-06-11T00:00:00.000Z/2030-06-12T00:00:00.000Z',
      '2030-06-21T00:00:00.000Z/2030-06-22T00:00:00.000Z',
    ]);
  });

  it('offlineUntil, always, offline, explicit intervals (clipped to those reaching the start)', () => {
    const start = at('2030-06-01T00:00:00Z');
    const until = at('2031-01-01T00:00:00Z');
    expect(show(intervalsOf({ kind: 'offlineUntil', at: at('2030-09-01T00:00:00Z') }, start, until))).toEqual(['2030-09-01T00:00:00.000Z/2031-01-02T00:00:00.000Z']);
    expect(show(intervalsOf({ kind: 'always' }, start, until))).toEqual(['2030-06-01T00:00:00.000Z/2031-01-02T00:00:00.000Z']);
    expect(intervalsOf({ kind: 'offline' }, start, until)).toEqual([]);
    const explicit = { kind: 'intervals' as const, intervals: [{ from: at('2029-01-01T00:00:00Z'), to: at('2029-02-01T00:00:00Z') }, { from: at('2030-01-01T00:00:00Z'), to: at('2030-07-01T00:00:00Z') }] };
    // The interval running at the start keeps its own start: check-ins fall on its cadence (R21).
    expect(show(intervalsOf(explicit, start, until))).toEqual(['2030-01-01T00:00:00.000Z/2030-07-01T00:00:00.000Z']);
  });

  it('an exact name wins over patterns; the first matching pattern wins among patterns', () => {
    const habits = parseHabits({ 'LYO-*': 'officeHours', 'LYO-0?': 'offline', 'LYO-02': 'always' });
    expect(habitEntryFor(habits, 'LYO-02')!.habit.kind).toBe('always');
    expect(habitEntryFor(habits, 'LYO-01')!.habit.kind).toBe('officeHours');
    expect(habitEntryFor(habits, 'FIN-01')).toBeUndefined();
  });

  it('the default: offline after more than 10,080 minutes of silence before the start, else always online', () => {
    const start = at('2030-06-01T00:00:00Z');
    const [quiet, recent, never] = machineHabits(parseHabits({}), [
      { name: 'A', lastHeartbeatAt: start - 10_081 * 60_000 },
      { name: 'B', lastHeartbeatAt: start - 10_080 * 60_000 },
      { name: 'C', lastHeartbeatAt: null },
    ], start, at('2031-01-01T00:00:00Z'));
    expect([quiet!.habit, recent!.habit, never!.habit]).toEqual(['offline', 'always online', 'offline']);
    expect(quiet!.source).toBe('default: lastheartbeatdate 2030-05-24T23:59:00.000Z is more than 10,080 minutes before the start');
    expect(recent!.source).toBe('default: lastheartbeatdate 2030-05-25T00:00:00.000Z is within 10,080 minutes of the start');
  });

  it('refuses bad habits files with every problem', () => {
    const dir = tempDir();
    const bad = writeJson(dir, 'habits.json', {
      A: 'sometimes',
      B: { daysPerMonth: 40 },
      C: { offlineUntil: 'soon' },
      D: { intervals: [{ from: '2030-02-01T00:00:00Z', to: '2030-01-01T00:00:00Z' }] },
      E: { always: true },
    });
    let error: RekeyError | undefined;
    try {
      loadHabitsFile(bad);
    } catch (e) {
      error = e as RekeyError;
    }
    expect(isRekeyError(error, 'HABITS_INVALID')).toBe(true);
    expect(error!.exitCode).toBe(2);
    expect(error!.details.problems).toEqual([
      '$["A"]: "sometimes" is not a habit; expected "always", "offline", "officeHours", {"daysPerMonth": N}, {"offlineUntil": ISO} or {"intervals": [{"from", "to"}]}',
      '$["B"].daysPerMonth: 40 is not a whole number of days from 1 to 28',
      '$["C"].offlineUntil: "soon" is not an ISO-8601 instant; expected e.g. 2031-01-01T00:00:00Z',
      '$["D"].intervals[0].to: 2030-01-01T00:00:00.000Z is not after from 2030-02-01T00:00:00.000Z',
      '$["E"]: has the keys "always"; expected exactly one of "daysPerMonth", "offlineUntil", "intervals"',
    ]);
    expect(() => loadHabitsFile(writeJson(dir, 'list.json', '[]'))).toThrow(/expected an object from machine names or glob patterns to habits/);
    expect(() => loadHabitsFile(writeJson(dir, 'broken.json', '{'))).toThrow(/is not valid JSON at line 1/);
  });
});
