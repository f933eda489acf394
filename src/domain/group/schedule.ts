/**
 * The group's due times (R3, R4, R5, R10, R15): pure functions of its state. The scheduler is
 * level-triggered: whenever the clock has passed a due time it is recorded, at the due time, however
 * late the engine looks (an engine that was down across a deadline catches up when it returns).
 */
import { renewalEnd, renewalStart } from '../periods.js';
import type { Instant } from '../time.js';
import { primaryKey, type GroupState } from './state.js';

/** Same-instant order (docs/model.md): pickup, then key retirement, then renewal start. */
export type DueKind = 'pickup' | 'retirement' | 'renewalStart';
const RANK: Record<DueKind, number> = { pickup: 0, retirement: 1, renewalStart: 2 };

export interface Due {
  readonly kind: DueKind;
  readonly at: Instant;
}

/**
 * When the next renewal of the current primary key starts, or null when none is scheduled. Settings
 * picked up during a renewal can make the next key due before that renewal is over: it then starts
 * when the window ends, never in the past (time in the log only moves forward).
 */
export function scheduledRenewalStart(state: GroupState): Instant | null {
  const key = primaryKey(state);
  if (state.lifecycle !== 'active' || state.renewal !== null || !key) return null;
  return Math.max(renewalStart(key, state.effective, state.effectiveSince), state.lastWindowEndedAt);
}

export function scheduledRenewalEnd(state: GroupState, start: Instant): Instant | null {
  const key = primaryKey(state);
  return key ? renewalEnd(key, start, state.effective.grace) : null;
}

export function nextDue(state: GroupState): Due | null {
  if (state.lifecycle !== 'active') return null;
  const candidates: Due[] = [];
  const pickup = Math.min(...state.pendingChanges.map((change) => change.pickupAt));
  if (Number.isFinite(pickup)) candidates.push({ kind: 'pickup', at: pickup });
  if (state.renewal) candidates.push({ kind: 'retirement', at: state.renewal.endsAt });
  const start = scheduledRenewalStart(state);
  if (start !== null) candidates.push({ kind: 'renewalStart', at: start });
  candidates.sort((a, b) => a.at - b.at || RANK[a.kind] - RANK[b.kind]);
  return candidates[0] ?? null;
}
