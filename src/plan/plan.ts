/**
 * `rekey plan`: the seed's admin checklist ("What if some machines are expected to remain offline or
 * unused for multiple months?") as a plan. For each group's current or next renewal window (as its
 * scheduler will open it: R3, R4, R5), the steps in the order they must happen, each with the
 * earliest instant it can be done and its deadline:
 *  1. update agents below 2.23 before the window opens (R8); give an empty group a machine (R16);
 *  2. fix connections that already need it (R18); rejoin machines that missed a renewal (R17);
 *  3. bring every member online during the window, long enough to check in (R11, R12);
 *  4. run every connection during the window, once the new key exists (R14);
 *  5. regenerate the group password on a machine with the new key, before adding a machine (R17).
 * Read from the log folded up to the instant; nothing is simulated (rekey forecast does that).
 */
import { takesPartInRenewals } from '../domain/agentVersion.js';
import { keyByVersion, primaryKey, type GroupState } from '../domain/group/state.js';
import { toIso, type Instant } from '../domain/time.js';
import type { Fleet } from '../engine/fleet.js';
import { nextWindowOf } from '../explain/deadline.js';
import { fleetAt } from '../readiness/report.js';
import type { EventStore } from '../store/port.js';

export type StepKind = 'updateAgent' | 'addMachine' | 'fixConnection' | 'rejoinMachine' | 'bringOnline' | 'runConnection' | 'regeneratePassword';

export interface PlanStep {
  /** 1, 2, ... within the group, in the order to do them. */
  readonly order: number;
  readonly group: string;
  readonly kind: StepKind;
  /** The machines or connections the step is about. */
  readonly subjects: string[];
  readonly what: string;
  /** The earliest instant the step can be done (the plan's instant when it can be done now). */
  readonly from: string;
  /** Its deadline. */
  readonly by: string;
  readonly rule: string;
}

export interface PlanGroup {
  readonly name: string;
  /** The key being renewed. */
  readonly keyVersion: number;
  readonly window: { readonly start: string; readonly end: string; readonly underWay: boolean };
  readonly steps: PlanStep[];
}

export interface Plan {
  /** The instant the plan is made for (the head of the log's instant without --as-of). */
  readonly asOf: string | null;
  readonly groups: PlanGroup[];
  /** Groups with no window to plan for, and why. */
  readonly skipped: { readonly name: string; readonly reason: string }[];
}

export async function makePlan(store: EventStore, asOf?: Instant): Promise<Plan> {
  const fleet = await fleetAt(store, asOf);
  const at = asOf ?? (Number.isFinite(fleet.latestAt) ? fleet.latestAt : null);
  const groups: PlanGroup[] = [];
  const skipped: { name: string; reason: string }[] = [];
  for (const name of fleet.groupNames()) {
    const state = fleet.group(name)!;
    const window = nextWindowOf(state);
    if (!window) {
      skipped.push({ name, reason: state.lifecycle === 'expired'
        ? 'its key expired because nobody renewed it (R16): delete it and create a new group'
        : primaryKey(state) ? 'no renewal is scheduled' : 'it has no key yet: the first machine that joins issues one (R7)' });
      continue;
    }
    groups.push(groupPlan(fleet, state, window, at ?? window.start));
  }
  return { asOf: at === null ? null : toIso(at), groups, skipped };
}

function groupPlan(fleet: Fleet, state: GroupState, window: { start: Instant; end: Instant; underWay: boolean }, now: Instant): PlanGroup {
  const S = toIso(window.start);
  const E = toIso(window.end);
  const nowIso = toIso(Math.min(now, window.end));
  const early = (instant: Instant) => toIso(Math.max(now, instant));
  const renewal = state.renewal;
  const oldVersion = renewal?.oldVersion ?? state.primaryVersion!;
  const newKey = renewal ? keyByVersion(state, renewal.newVersion) : undefined;
  const members = Object.values(state.members).sort((a, b) => a.name.localeCompare(b.name));
  const beforeWindow = window.underWay ? E : S;
  const raw: Omit<PlanStep, 'order' | 'group'>[] = [];

  const outdated = members.filter((m) => m.status !== 3 && !takesPartInRenewals(m.agentVersion));
  if (outdated.length > 0) {
    raw.push({ kind: 'updateAgent', subjects: outdated.map((m) => m.name), what: `update Power Automate for desktop to 2.23 or above on ${outdated.map((m) => `${m.name} (${m.agentVersion})`).join(', ')}`, from: nowIso, by: beforeWindow, rule: 'R8' });
  }
  if (members.length === 0) {
    raw.push({ kind: 'addMachine', subjects: [], what: `add a machine (2.23 or above) to ${state.name}, or its key expires at ${E}; or delete the group`, from: nowIso, by: beforeWindow, rule: 'R16' });
  }
  const connections = fleet.connectionsTargeting(state.name, members.map((m) => m.name));
  const broken = connections.filter((c) => c.needsFix);
  if (broken.length > 0) {
    raw.push({ kind: 'fixConnection', subjects: broken.map((c) => c.name), what: `fix ${broken.map((c) => c.name).join(', ')} ("Fix connection"): re-enter the credentials`, from: nowIso, by: beforeWindow, rule: 'R18' });
  }
  const missed = members.filter((m) => m.status === 3);
  if (missed.length > 0) {
    raw.push({ kind: 'rejoinMachine', subjects: missed.map((m) => m.name), what: `regenerate the group password on a machine that holds the primary key, then rejoin ${missed.map((m) => m.name).join(', ')} with it`, from: nowIso, by: beforeWindow, rule: 'R17' });
  }
  const toBringOnline = members.filter((m) => m.status !== 3 && !(newKey && m.keyVersions.includes(newKey.version)));
  if (toBringOnline.length > 0) {
    const issuer = newKey ? '' : ' (the first to check in issues the new key)';
    raw.push({ kind: 'bringOnline', subjects: toBringOnline.map((m) => m.name), what: `bring ${toBringOnline.map((m) => m.name).join(', ')} online between ${S} and ${E}, long enough to check in once${issuer}`, from: early(window.start), by: E, rule: newKey ? 'R12' : 'R11, R12' });
  }
  const toRun = connections.filter((c) => !c.needsFix && !(newKey && c.ciphertexts.some((x) => x.thumbprint === newKey.thumbprint)));
  if (toRun.length > 0) {
    const from = newKey ? early(newKey.createdAt) : early(window.start);
    raw.push({ kind: 'runConnection', subjects: toRun.map((c) => c.name), what: `run ${toRun.map((c) => c.name).join(', ')} once each on a machine that holds the new key, after it is issued and before ${E}${state.proactiveReencryption ? ' (proactive re-encryption is on: a member holding both keys also re-encrypts them at its check-in)' : ', or fix them afterwards'}`, from, by: E, rule: 'R14' });
  }
  raw.push({ kind: 'regeneratePassword', subjects: [], what: `regenerate the group password on a machine that holds key version ${oldVersion + 1} (the old password no longer admits machines once it is issued)`, from: newKey ? early(newKey.createdAt) : early(window.start), by: E, rule: 'R17' });

  return {
    name: state.name,
    keyVersion: oldVersion,
    window: { start: S, end: E, underWay: window.underWay },
    steps: raw.map((step, i) => ({ order: i + 1, group: state.name, ...step })),
  };
}
