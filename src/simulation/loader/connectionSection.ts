/**
 * A desktop flow connection of the scenario: its unique name, exactly one target (a group or a
 * machine declared above), credentials, when it is created, and when it runs.
 */
import { type Instant, toIso } from '../../domain/time.js';
import type { ScenarioConnection } from '../scenario.js';
import { RUN_EVERY_MAX_MINUTES, RUN_EVERY_MIN_MINUTES, SCENARIO_FIELDS } from './fields.js';
import type { ReadContext } from './readContext.js';
import { type Slot, readArray, readInteger, readObject, readText } from './read.js';

export function readConnection(ctx: ReadContext, slot: Slot): ScenarioConnection | undefined {
  const fields = readObject(ctx.problems, slot, SCENARIO_FIELDS.connection, 'a desktop flow connection');
  if (!fields) return undefined;
  const name = ctx.declare(ctx.connections, fields.slot('name'), 'connection name', null);
  let target: ScenarioConnection['target'] | undefined;
  const hasGroup = fields.has('group');
  const hasMachine = fields.has('machine');
  if (hasGroup && hasMachine) {
    ctx.problems.add(slot.path, 'has both `group` and `machine`', 'exactly one target: `group` or `machine`');
  } else if (!hasGroup && !hasMachine) {
    ctx.problems.add(slot.path, 'has neither `group` nor `machine`', 'exactly one target: `group` or `machine`');
  } else if (hasGroup) {
    const group = ctx.reference(ctx.groups, fields.slot('group'), 'machine group');
    if (group !== undefined) target = { type: 'group', name: group };
  } else {
    const machine = ctx.reference(ctx.machines, fields.slot('machine'), 'machine');
    if (machine !== undefined) target = { type: 'machine', name: machine };
  }
  const createAt = ctx.instantIn(fields.slot('createAt'), 'createAt');
  const username = readText(ctx.problems, fields.slot('username'), 'the connection username');
  const password = readText(ctx.problems, fields.slot('password'), 'the connection password');
  const runEveryMinutes = readInteger(ctx.problems, fields.slot('runEveryMinutes'), {
    min: RUN_EVERY_MIN_MINUTES,
    max: RUN_EVERY_MAX_MINUTES,
    unit: 'minutes',
  });
  const runAt = readRunAt(ctx, fields.slot('runAt'), createAt);
  if (name === undefined || target === undefined || createAt === undefined || username === undefined ||
    password === undefined || runAt === undefined) return undefined;
  return { name, target, createAt, username, password, runEveryMinutes: runEveryMinutes ?? null, runAt };
}

/** Distinct instants in [createAt, end], sorted. */
function readRunAt(ctx: ReadContext, slot: Slot, createAt: Instant | undefined): Instant[] | undefined {
  if (slot.value === undefined) return [];
  const items = readArray(ctx.problems, slot, 'the run instants');
  if (!items) return undefined;
  const seen = new Map<Instant, string>();
  const result: Instant[] = [];
  for (const item of items) {
    const at = ctx.instantIn(item, 'a run');
    if (at === undefined) continue;
    if (createAt !== undefined && at < createAt) {
      ctx.problems.add(item.path, `${toIso(at)} is before the connection's createAt ${toIso(createAt)}`, 'a run at or after createAt');
      continue;
    }
    const first = seen.get(at);
    if (first !== undefined) {
      ctx.problems.add(item.path, `${toIso(at)} repeats ${first}`, 'distinct run instants');
      continue;
    }
    seen.set(at, item.path);
    result.push(at);
  }
  return result.sort((a, b) => a - b);
}
