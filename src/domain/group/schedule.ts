/**
 * The group's due times (R3, R4, R5, R10, R15): pure functions of its state. The scheduler is
 * level-triggered: whenever the clock has passed a due time it is recorded, at the due time, however
 * late the engine looks (an engine that was down across a deadline catches up when it returns).
 */
import { renewalEnd, renewalStart, type PeriodSettings } from '../periods.js';
import type { Instant } from '../time.js';
import { evolveGroup } from './evolve.js';
import { keyByVersion, primaryKey, type GroupState } from './state.js';

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

/** R4: the settings in force after the pickup at `at`: every change recorded up to it, together. */
export function settingsAtPickup(state: GroupState, at: Instant): PeriodSettings {
  let settings = state.effective;
  for (const change of state.pendingChanges) {
    if (change.pickupAt > at) continue;
    settings = { validity: change.validity ?? settings.validity, grace: change.grace ?? settings.grace };
  }
  return settings;
}

export interface UpcomingRenewal {
  readonly startsAt: Instant;
  readonly endsAt: Instant;
}

/**
 * The renewal of the primary key (R22) as the scheduler will record it: the renewal under way while
 * its new key does not exist yet, else the next RenewalStarted. It walks the group's own due times
 * (`nextDue`) through the pickups of recorded settings changes (R4) and the end of the window under
 * way, applying each with `evolveGroup` as the scheduler does, so the answer is the scheduler's by
 * construction (R3, R5: never before a pickup, never before the previous window's end). It assumes
 * the group survives that window (the value never depends on membership); null for a group with no
 * key, an expired or a deleted one.
 */
export function upcomingRenewal(state: GroupState): UpcomingRenewal | null {
  if (state.lifecycle !== 'active' || !primaryKey(state)) return null;
  const current = state.renewal;
  if (current && current.newVersion === null) return { startsAt: current.startsAt, endsAt: current.endsAt };
  let ahead = state;
  for (let due = nextDue(ahead); due !== null; due = nextDue(ahead)) {
    if (due.kind === 'renewalStart') return { startsAt: due.at, endsAt: scheduledRenewalEnd(ahead, due.at)! };
    if (due.kind === 'pickup') {
      const settings = settingsAtPickup(ahead, due.at);
      ahead = evolveGroup(ahead, { type: 'SettingsPickedUp', at: due.at, data: { keyValidityPeriod: settings.validity, keyExpiryGracePeriod: settings.grace } });
    } else {
      const retiring = keyByVersion(ahead, ahead.renewal!.oldVersion)!;
      ahead = evolveGroup(ahead, { type: 'KeyExpired', at: due.at, data: { keyVersion: retiring.version, keyThumbprint: retiring.thumbprint } });
    }
  }
  return null;
}
