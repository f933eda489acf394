/**
 * A machine of the scenario: its unique name, its group (declared above), agent version, when it
 * joins, and its online intervals (R21: half-open, sorted, none overlapping).
 */
import { toIso } from '../../domain/time.js';
import type { Interval, ScenarioMachine } from '../scenario.js';
import { SCENARIO_FIELDS } from './fields.js';
import type { ReadContext } from './readContext.js';
import { type Slot, readArray, readInstant, readObject, readVersion } from './read.js';

export function readMachine(ctx: ReadContext, slot: Slot): ScenarioMachine | undefined {
  const fields = readObject(ctx.problems, slot, SCENARIO_FIELDS.machine, 'a machine');
  if (!fields) return undefined;
  const groupSlot = fields.slot('group');
  const group = ctx.reference(ctx.groups, groupSlot, 'machine group');
  const groupKnown = groupSlot.value === undefined || group !== undefined;
  const name = ctx.declare(ctx.machines, fields.slot('name'), 'machine name', {
    group: group ?? null,
    // A bad group field is reported once, at the machine; actions naming it then say nothing more.
    groupKnown,
  });
  const agentVersion = readVersion(ctx.problems, fields.slot('agentVersion'));
  const joinAtSlot = fields.slot('joinAt');
  const joinAt = ctx.instantIn(joinAtSlot, 'joinAt');
  if (joinAtSlot.value !== undefined && groupSlot.value === undefined) {
    ctx.problems.add(joinAtSlot.path, 'is set but the machine has no group to join', 'a `group` beside `joinAt`, or no `joinAt`');
  }
  const online = readOnline(ctx, fields.slot('online'));
  if (name === undefined || agentVersion === undefined || online === undefined) return undefined;
  return { name, group: group ?? null, agentVersion, joinAt: joinAt ?? null, online };
}

/** R21: half-open intervals, each to > from, sorted, none overlapping. */
function readOnline(ctx: ReadContext, slot: Slot): Interval[] | undefined {
  if (slot.value === undefined) return [];
  const items = readArray(ctx.problems, slot, 'the online intervals');
  if (!items) return undefined;
  const intervals: { interval: Interval; path: string; index: number }[] = [];
  items.forEach((item, index) => {
    const fields = readObject(ctx.problems, item, SCENARIO_FIELDS.interval, 'an online interval');
    if (!fields) return;
    const from = ctx.instantIn(fields.slot('from'), 'from');
    const toSlot = fields.slot('to');
    const to = readInstant(ctx.problems, toSlot);
    if (from === undefined || to === undefined) return;
    if (to <= from) {
      ctx.problems.add(toSlot.path, `${toIso(to)} is not after from ${toIso(from)}`, 'an instant after `from` (intervals are [from, to))');
      return;
    }
    intervals.push({ interval: { from, to }, path: item.path, index });
  });
  intervals.sort((a, b) => a.interval.from - b.interval.from || a.index - b.index);
  for (let k = 1; k < intervals.length; k++) {
    const previous = intervals[k - 1]!;
    const current = intervals[k]!;
    if (current.interval.from < previous.interval.to) {
      ctx.problems.add(
        current.path,
        `[${toIso(current.interval.from)}, ${toIso(current.interval.to)}) overlaps online[${previous.index}] [${toIso(previous.interval.from)}, ${toIso(previous.interval.to)})`,
        'online intervals that do not overlap (a next interval may start where one ends)',
      );
    }
  }
  return intervals.map((entry) => entry.interval);
}
