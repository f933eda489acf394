/**
 * Warnings about a valid scenario that the run will likely refuse: more than MAX_MACHINES_PER_GROUP
 * (R9) machines joining one group through `joinAt`.
 */
import type { Instant } from '../../domain/time.js';
import type { Scenario } from '../scenario.js';
import { MAX_MACHINES_PER_GROUP } from './fields.js';
import { type ScenarioProblem, quote } from './problems.js';

/** R9: more than MAX_MACHINES_PER_GROUP joinAt joins into one group (the extra joins will be refused). */
export function joinWarnings(scenario: Scenario): ScenarioProblem[] {
  const joins = new Map<string, { at: Instant; index: number }[]>();
  scenario.machines.forEach((machine, index) => {
    if (machine.group === null || machine.joinAt === null) return;
    const list = joins.get(machine.group) ?? [];
    list.push({ at: machine.joinAt, index });
    joins.set(machine.group, list);
  });
  const warnings: ScenarioProblem[] = [];
  for (const [group, list] of joins) {
    if (list.length <= MAX_MACHINES_PER_GROUP) continue;
    list.sort((a, b) => a.at - b.at || a.index - b.index);
    const first = list[MAX_MACHINES_PER_GROUP]!;
    warnings.push({
      path: `machines[${first.index}].joinAt`,
      message: `is join ${MAX_MACHINES_PER_GROUP + 1} of ${list.length} into machine group ${quote(group)} through joinAt; expected at most ${MAX_MACHINES_PER_GROUP} members (R9): later joins are refused unless machines are removed first`,
    });
  }
  return warnings;
}
