/**
 * An action of the scenario: its `do` (one of the action types), its instant in the window, and the
 * fields its type takes; an action through a machine's group must name a machine that has one.
 */
import type { ScenarioAction } from '../scenario.js';
import { ACTIONS_THROUGH_GROUP, ACTION_FIELDS, ACTION_TYPES, type ActionField, type ActionType } from './fields.js';
import { describe, quote } from './problems.js';
import type { ReadContext } from './readContext.js';
import { type Slot, readBoolean, readInteger, readObject, readText, readVersion } from './read.js';

export function readAction(ctx: ReadContext, slot: Slot, index: number): ScenarioAction | undefined {
  const type = readActionType(ctx, slot);
  const table: Record<string, 'required'> = { at: 'required', do: 'required' };
  if (type !== undefined) for (const key of ACTION_FIELDS[type]) table[key] = 'required';
  const what = type === undefined ? 'an action' : `a ${type} action`;
  // Without a known `do`, only `at` and `do` are checked: the other fields depend on it.
  const fields = readObject(ctx.problems, slot, type === undefined ? anyActionFields : table, what);
  if (!fields) return undefined;
  const at = ctx.instantIn(fields.slot('at'), 'the action');
  if (type === undefined) return undefined;
  const action: Record<string, unknown> = { at, index, do: type };
  let complete = at !== undefined;
  for (const key of ACTION_FIELDS[type] as readonly ActionField[]) {
    const value = readActionField(ctx, type, key, fields.slot(key));
    if (value === undefined) complete = false;
    else action[key] = value; // keys come from ACTION_FIELDS, never from the file
  }
  return complete ? (action as ScenarioAction) : undefined;
}

/** The action's `do`, reported when missing or unknown. */
function readActionType(ctx: ReadContext, slot: Slot): ActionType | undefined {
  const value = slot.value;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined; // readObject reports it
  const descriptor = Object.getOwnPropertyDescriptor(value, 'do');
  const type: unknown = descriptor && 'value' in descriptor ? descriptor.value : undefined;
  const path = `${slot.path}.do`;
  const expected = `one of ${ACTION_TYPES.join(', ')}`;
  if (type === undefined) {
    ctx.problems.add(path, 'is missing', expected);
    return undefined;
  }
  if (typeof type !== 'string' || !Object.prototype.hasOwnProperty.call(ACTION_FIELDS, type)) {
    ctx.problems.add(path, typeof type === 'string' ? `${quote(type)} is not an action` : `got ${describe(type)}`, expected);
    return undefined;
  }
  return type as ActionType;
}

function readActionField(ctx: ReadContext, type: ActionType, key: ActionField, slot: Slot): unknown {
  switch (key) {
    case 'group':
      return ctx.reference(ctx.groups, slot, 'machine group');
    case 'machine': {
      const machine = ctx.reference(ctx.machines, slot, 'machine');
      if (machine === undefined) return undefined;
      const info = ctx.machines.byName.get(machine)?.info;
      if (ACTIONS_THROUGH_GROUP.has(type) && info !== undefined && info.groupKnown && info.group === null && !ctx.continuesFrom) {
        ctx.problems.add(slot.path, `machine ${quote(machine)} has no group, so ${type} has nothing to act on`, 'a machine declared with a `group`');
        return undefined;
      }
      return machine;
    }
    case 'connection':
      return ctx.reference(ctx.connections, slot, 'connection');
    case 'minutes':
      // The R1/R2 range is the engine's to check when the action runs (a refusal, not a file error).
      return readInteger(ctx.problems, slot, { unit: 'minutes' });
    case 'enabled':
      return readBoolean(ctx.problems, slot);
    case 'password':
      return readText(ctx.problems, slot, type === 'fixConnection' ? 'the new connection password' : 'the password to type');
    case 'newPassword':
      return readText(ctx.problems, slot, 'the new group password');
    case 'agentVersion':
      return readVersion(ctx.problems, slot);
  }
}

/** Every field any action may have: used when `do` is unknown, so only truly foreign fields show. */
const anyActionFields: Record<string, 'required' | 'optional'> = { at: 'required', do: 'required' };
for (const keys of Object.values(ACTION_FIELDS)) for (const key of keys) anyActionFields[key] = 'optional';
