/**
 * The scenario's `from`: "store" or {"export": [files]}, the starting state a continued scenario
 * runs on; with it, groups and machines may be names the starting state holds.
 */
import type { ScenarioFrom } from '../scenario.js';
import { MAX_FROM_FILES } from './fields.js';
import { quote } from './problems.js';
import type { ReadContext } from './readContext.js';
import { type Slot, readArray, readObject, readText } from './read.js';

/** `from`: "store", or {"export": [files]}; with it, groups and machines may be those of the starting state. */
export function readFrom(ctx: ReadContext, slot: Slot): ScenarioFrom | undefined {
  const value = slot.value;
  if (value === undefined) return undefined;
  ctx.continuesFrom = true;
  const expected = '"store" (continue from the store given with --db) or {"export": ["file.json", ...]}';
  if (value === 'store') return { kind: 'store' };
  if (typeof value === 'string') {
    ctx.problems.add(slot.path, `${quote(value)} is not a starting state`, expected);
    return undefined;
  }
  const fields = readObject(ctx.problems, slot, { export: 'required' }, 'the starting state');
  if (!fields) return undefined;
  const items = readArray(ctx.problems, fields.slot('export'), 'the export files');
  if (!items) return undefined;
  if (items.length === 0 || items.length > MAX_FROM_FILES) {
    ctx.problems.add(fields.slot('export').path, `has ${items.length} files`, `1 to ${MAX_FROM_FILES} export files`);
    return undefined;
  }
  const files: string[] = [];
  for (const item of items) {
    const file = readText(ctx.problems, item, 'an export file path');
    if (file !== undefined) files.push(file);
  }
  return files.length === items.length ? { kind: 'export', files } : undefined;
}
