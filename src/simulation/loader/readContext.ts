/**
 * What the sections of a scenario share while it is read: the window instants must lie in, the names
 * declared so far (references must name one declared above), and, for a continued scenario, the
 * names left for the starting state to hold. One object, so each section reads on its own file.
 */
import { type Instant, toIso } from '../../domain/time.js';
import type { ExternalReference } from '../scenario.js';
import { MAX_NAME_LENGTH, NAME_PATTERN } from './fields.js';
import { type Problems, describe, quote } from './problems.js';
import { type Slot, readArray, readInstant, readName } from './read.js';

/** The names declared so far, with where: references are checked against them. */
export interface Declared<T> {
  readonly byName: Map<string, { readonly path: string; readonly info: T }>;
}

export interface MachineInfo {
  /** The machine's group, or null when it has none (or its group field is bad: see `groupKnown`). */
  readonly group: string | null;
  readonly groupKnown: boolean;
}

/** The window instants must lie in; undefined when start or end is bad (nothing is compared then). */
export type Window = { readonly start: Instant; readonly end: Instant } | undefined;

export class ReadContext {
  window: Window;
  readonly groups: Declared<null> = { byName: new Map() };
  readonly machines: Declared<MachineInfo> = { byName: new Map() };
  readonly connections: Declared<null> = { byName: new Map() };

  /** With `from`, names of groups and machines that the starting state may hold (checked when it is read). */
  continuesFrom = false;
  readonly external: ExternalReference[] = [];

  constructor(readonly problems: Problems) {}

  items<T>(slot: Slot, what: string, read: (item: Slot, index: number) => T | undefined): T[] {
    const items = readArray(this.problems, slot, what) ?? [];
    const result: T[] = [];
    items.forEach((item, index) => {
      const value = read(item, index);
      if (value !== undefined) result.push(value);
    });
    return result;
  }

  /** An instant of something that happens: in [start, end), as the simulation stops at `end`. */
  instantIn(slot: Slot, what: string): Instant | undefined {
    const at = readInstant(this.problems, slot);
    if (at === undefined || this.window === undefined) return at;
    const { start, end } = this.window;
    if (at < start || at >= end) {
      this.problems.add(
        slot.path,
        `${toIso(at)} is outside the scenario [${toIso(start)}, ${toIso(end)})`,
        `${what} at or after start and before end (the simulation stops at end)`,
      );
      return undefined;
    }
    return at;
  }

  /** Reads a name and records it; a repeated name is reported and not recorded again. */
  declare<T>(declared: Declared<T>, slot: Slot, what: string, info: T): string | undefined {
    const name = readName(this.problems, slot, what);
    if (typeof slot.value === 'string' && slot.value.length <= MAX_NAME_LENGTH) {
      // Even a malformed name is recorded, so references to it do not repeat the problem.
      const first = declared.byName.get(slot.value);
      if (first !== undefined) {
        if (name !== undefined) this.problems.add(slot.path, `${quote(name)} is already the name of ${first.path.replace(/\.name$/, '')}`, `a unique ${what}`);
        return undefined;
      }
      declared.byName.set(slot.value, { path: slot.path, info });
    }
    return name;
  }

  /** A name that must be declared above (groups before machines before connections). */
  reference<T>(declared: Declared<T>, slot: Slot, what: string): string | undefined {
    if (slot.value === undefined) {
      if (slot.required) this.problems.add(slot.path, 'is missing', `the name of a ${what} of this scenario`);
      return undefined;
    }
    if (typeof slot.value !== 'string') {
      this.problems.add(slot.path, `got ${describe(slot.value)}`, `the name of a ${what} of this scenario`);
      return undefined;
    }
    if (!declared.byName.has(slot.value)) {
      if (this.continuesFrom && (what === 'machine group' || what === 'machine') && NAME_PATTERN.test(slot.value)) {
        // Continued scenarios may name what the starting state holds: checked once it is read.
        this.external.push({ path: slot.path, what, name: slot.value });
        return slot.value;
      }
      this.problems.add(slot.path, `${quote(slot.value)} is not a ${what} of this scenario`, `the name of a ${what} of this scenario${known(declared)}`);
      return undefined;
    }
    return slot.value;
  }
}

/** ` (one of A, B, C)`: the first few declared names, to point at the likely typo. */
function known(declared: Declared<unknown>): string {
  const names = [...declared.byName.keys()];
  if (names.length === 0) return ' (it declares none)';
  const shown = names.slice(0, 5).map(quote).join(', ');
  return names.length > 5 ? ` (one of ${shown}, ...)` : ` (one of ${shown})`;
}
