/**
 * A group's next deadline with the seed's formula filled in with its own numbers:
 *   renewal start S = Key Creation Date + (Key Validity Period - Key Grace Period)   (R3)
 * in its general form S = c + min(v_key, v) - g, never before the settings were picked up (R5) nor
 * before the last window ended; and the window's end E = min(c + v_key, S + g). The values come from
 * the scheduler's own functions (src/domain/group/schedule.ts); this module only shows the arithmetic.
 */
import { decideGroup } from '../domain/group/decide.js';
import { scheduledRenewalEnd, scheduledRenewalStart } from '../domain/group/schedule.js';
import { keyByVersion, primaryKey, type GroupState } from '../domain/group/state.js';
import { nextRenewalDate } from '../../projections/rows.js';
import { plusMinutes, toIso, type Instant } from '../domain/time.js';

export interface Deadline {
  /** What happens at `at`. */
  readonly what: 'renewal starts' | 'renewal window ends';
  readonly at: string;
  readonly rule: string;
  /** The formula with the row's own numbers. */
  readonly formula: string;
  readonly terms: Record<string, string | number>;
  /** Anything that moved the instant off the plain formula (R5, a window still open, a pending change). */
  readonly notes: string[];
  /** The whole window [start, end) when known. */
  readonly window: { readonly start: string; readonly end: string } | null;
}

const n = (minutes: number) => minutes.toLocaleString('en-US');

export function groupDeadline(state: GroupState): Deadline | null {
  if (state.lifecycle !== 'active') return null;
  const renewal = state.renewal;
  if (renewal) {
    const old = keyByVersion(state, renewal.oldVersion)!;
    const grace = Math.round((renewal.endsAt - renewal.startsAt) / 60_000);
    const notAfter = plusMinutes(old.createdAt, old.validity);
    const bySettings = plusMinutes(renewal.startsAt, state.effective.grace);
    return {
      what: 'renewal window ends',
      at: toIso(renewal.endsAt),
      rule: 'R3, R15',
      formula: `E = min(Key Creation Date ${toIso(old.createdAt)} + Key Validity Period ${n(old.validity)} = ${toIso(notAfter)}, renewal start ${toIso(renewal.startsAt)} + Key Grace Period ${n(state.effective.grace)} = ${toIso(bySettings)}) = ${toIso(renewal.endsAt)}`,
      terms: { keyCreationDate: toIso(old.createdAt), keyValidityPeriodOfKey: old.validity, renewalStart: toIso(renewal.startsAt), keyExpiryGracePeriod: state.effective.grace, keyVersion: old.version },
      notes: [
        `the window lasts ${n(grace)} minutes; members that have not taken key version ${renewal.newVersion ?? old.version + 1} by then get KeyExpired (R15)`,
        ...(renewal.newVersion === null ? ['no machine has issued the new key yet: the first eligible one to check in does (R11); if none does, the group key expires at the end (R16)'] : []),
      ],
      window: { start: toIso(renewal.startsAt), end: toIso(renewal.endsAt) },
    };
  }
  const key = primaryKey(state);
  if (!key) return null;
  const start = scheduledRenewalStart(state)!;
  const v = state.effective.validity;
  const g = state.effective.grace;
  const plain = plusMinutes(key.createdAt, Math.min(key.validity, v) - g);
  const validityTerm = key.validity === v ? `Key Validity Period ${n(v)}` : `min(validity of this key ${n(key.validity)}, Key Validity Period in force ${n(v)})`;
  const notes: string[] = [];
  if (start > plain && start === state.effectiveSince) notes.push(`the formula gives ${toIso(plain)}, before the settings were picked up at ${toIso(state.effectiveSince)}: the renewal starts at the pickup (R5)`);
  else if (start > plain) notes.push(`the formula gives ${toIso(plain)}, before the last renewal window ended at ${toIso(state.lastWindowEndedAt)}: it starts then`);
  const next = nextRenewalDate(state);
  if (state.pendingChanges.length > 0 && next !== null && next !== start) {
    notes.push(`a settings change not yet picked up (at ${toIso(Math.min(...state.pendingChanges.map((c) => c.pickupAt)))}, R4) moves it to ${toIso(next)}`);
  }
  const end = scheduledRenewalEnd(state, start)!;
  return {
    what: 'renewal starts',
    at: toIso(start),
    rule: 'R3',
    formula: `Key Creation Date ${toIso(key.createdAt)} + (${validityTerm} - Key Grace Period ${n(g)}) = ${toIso(key.createdAt)} + ${n(Math.min(key.validity, v) - g)} minutes = ${toIso(plain)}`,
    terms: { keyCreationDate: toIso(key.createdAt), keyValidityPeriod: v, keyValidityPeriodOfKey: key.validity, keyExpiryGracePeriod: g, keyVersion: key.version, settingsPickedUpAt: toIso(state.effectiveSince) },
    notes,
    window: { start: toIso(start), end: toIso(end) },
  };
}

/**
 * The current or next window of a group as its scheduler will open it, pending settings changes
 * included (R4, R5): the group's own ProcessDue decision run far ahead on its state without members.
 */
export function nextWindowOf(state: GroupState): { start: Instant; end: Instant; underWay: boolean } | null {
  if (state.lifecycle !== 'active' || !primaryKey(state)) return null;
  if (state.renewal) return { start: state.renewal.startsAt, end: state.renewal.endsAt, underWay: true };
  const started = decideGroup({ type: 'ProcessDue', at: FAR_FUTURE }, { ...state, members: {} }).find((event) => event.type === 'RenewalStarted');
  return started && started.type === 'RenewalStarted' ? { start: started.at, end: Date.parse(started.data.endsAt), underWay: false } : null;
}

const FAR_FUTURE = 8.64e15;
