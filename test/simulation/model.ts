/**
 * A small, independent model of the seed's renewal rules for one machine group with constant
 * settings, written from the seed and docs/model.md, not from the engine's code (it imports
 * none of it). The property suite runs the real engine on the same fleet and compares the events,
 * and every table row at chosen instants.
 *
 * The model's world: machines join at `joinAt` (the first one issues key 1), check in at their join
 * and every `interval` minutes of their online intervals, counted from each interval's start
 * (R21), and rejoin at `rejoinAt` with the group's first password (never regenerated); nothing else
 * happens. Nothing happens at or after `end` but due times.
 */
export interface ModelMachine {
  readonly name: string;
  readonly renews: boolean; // agent 2.23 or above
  readonly joinAt: number | null;
  readonly online: readonly { from: number; to: number }[];
  readonly rejoinAt?: readonly number[];
}

export interface ModelFleet {
  readonly start: number;
  readonly end: number;
  readonly validityMs: number;
  readonly graceMs: number;
  readonly checkInMs: number;
  readonly machines: readonly ModelMachine[];
}

export interface ModelRenewal {
  readonly startsAt: number;
  readonly endsAt: number;
  issuedAt: number | null;
  issuer: string | null;
  readonly takers: { machine: string; at: number }[];
  retired: boolean;
}

export type Status = 1 | 2 | 3; // Default, PendingNewKey, KeyExpired

/** What the flowmachines row of a member shows (R7, R10-R12, R15, R21). */
export interface MachineRow {
  readonly status: Status;
  readonly keyReceivedAt: number | null;
  readonly lastHeartbeatAt: number | null;
}

/** What the flowmachinegroups row shows (R3, R16, R22). */
export interface GroupRow {
  readonly keyCreatedAt: number | null;
  readonly nextRenewalAt: number | null;
  readonly expired: boolean;
}

interface Change<T> {
  readonly at: number;
  readonly value: T;
}

export interface ModelOutcome {
  readonly renewals: ModelRenewal[];
  groupExpiredAt: number | null;
  readonly refusedJoins: string[];
  readonly refusedRejoins: { machine: string; at: number }[];
  /** Final key delivery status of every member. */
  readonly status: Map<string, Status>;
  /** Every change of each member's status and key received date, in time order. */
  readonly memberChanges: Map<string, Change<{ status: Status; keyReceivedAt: number | null }>[]>;
  /** Every instant each member checked in (its join, its cadence, its rejoins), sorted. */
  readonly checkIns: Map<string, number[]>;
  readonly groupChanges: Change<GroupRow>[];
}

interface Moment {
  at: number;
  rank: number; // 0 join (with its own check-in), 1 check-in, 2 rejoin (a scenario action)
  name: string;
}

/** The last change at or before `at` (changes are in time order). */
function lastAt<T>(changes: readonly Change<T>[] | undefined, at: number): T | undefined {
  let found: T | undefined;
  for (const change of changes ?? []) {
    if (change.at > at) break;
    found = change.value;
  }
  return found;
}

/** The member's row as of `at` (all that happened at `at` included), or undefined before it joined. */
export function machineRowAt(outcome: ModelOutcome, name: string, at: number): MachineRow | undefined {
  const member = lastAt(outcome.memberChanges.get(name), at);
  if (!member) return undefined;
  const beats = (outcome.checkIns.get(name) ?? []).filter((beat) => beat <= at);
  return { ...member, lastHeartbeatAt: beats.length > 0 ? Math.max(...beats) : null };
}

export function groupRowAt(outcome: ModelOutcome, at: number): GroupRow {
  return lastAt(outcome.groupChanges, at) ?? { keyCreatedAt: null, nextRenewalAt: null, expired: false };
}

/** Cadence check-ins of a machine that joined at `joinedAt`: after its join, inside its intervals, before `end`. */
function cadence(machine: ModelMachine, joinedAt: number, fleet: ModelFleet): number[] {
  const instants: number[] = [];
  for (const { from, to } of machine.online) {
    for (let at = from; at < to && at < fleet.end; at += fleet.checkInMs) {
      if (at > joinedAt) instants.push(at);
    }
  }
  return instants;
}

export function runModel(fleet: ModelFleet): ModelOutcome {
  const outcome: ModelOutcome = {
    renewals: [], groupExpiredAt: null, refusedJoins: [], refusedRejoins: [], status: new Map(),
    memberChanges: new Map(), checkIns: new Map(), groupChanges: [],
  };
  const byName = new Map(fleet.machines.map((m) => [m.name, m]));
  const keyReceivedAt = new Map<string, number | null>();
  let keyCreatedAt: number | null = null;
  let renewal: ModelRenewal | null = null;
  /** Members holding the newest key of the current renewal. */
  let holdersOfNew = new Set<string>();

  const noteMember = (name: string, at: number) => {
    const changes = outcome.memberChanges.get(name) ?? [];
    changes.push({ at, value: { status: outcome.status.get(name)!, keyReceivedAt: keyReceivedAt.get(name) ?? null } });
    outcome.memberChanges.set(name, changes);
  };
  const setStatus = (name: string, status: Status, at: number) => {
    outcome.status.set(name, status);
    noteMember(name, at);
  };
  const checkedIn = (name: string, at: number) => outcome.checkIns.get(name)!.push(at);
  // R22, R3: the group row shows the primary key's creation and, with constant settings, the seed's
  // Key Creation Date + (validity - grace) of the primary; during a renewal whose new key does not
  // exist yet the primary is still the key being renewed, whose renewal started at S.
  const noteGroup = (at: number) => {
    const expired = outcome.groupExpiredAt !== null;
    const primaryCreatedAt = renewal?.issuedAt ?? keyCreatedAt;
    let nextRenewalAt: number | null = null;
    if (!expired && primaryCreatedAt !== null) {
      nextRenewalAt = renewal && renewal.issuedAt === null ? renewal.startsAt : primaryCreatedAt + fleet.validityMs - fleet.graceMs;
    }
    outcome.groupChanges.push({ at, value: { keyCreatedAt: primaryCreatedAt, nextRenewalAt, expired } });
  };

  const processDue = (until: number) => {
    for (;;) {
      if (outcome.groupExpiredAt !== null || keyCreatedAt === null) return;
      if (renewal) {
        if (renewal.endsAt > until) return;
        // The old key retires at E: who did not take the new key is KeyExpired (R15).
        const r: ModelRenewal = renewal;
        r.retired = true;
        for (const [name, status] of outcome.status) if (!holdersOfNew.has(name) && status !== 3) setStatus(name, 3, r.endsAt);
        if (r.issuedAt === null || holdersOfNew.size === 0) {
          outcome.groupExpiredAt = r.endsAt; // R16
          noteGroup(r.endsAt);
          return;
        }
        keyCreatedAt = r.issuedAt;
        renewal = null;
        noteGroup(r.endsAt);
        continue;
      }
      const startsAt = keyCreatedAt + fleet.validityMs - fleet.graceMs; // seed: creation + (validity - grace)
      if (startsAt > until) return;
      renewal = { startsAt, endsAt: keyCreatedAt + fleet.validityMs, issuedAt: null, issuer: null, takers: [], retired: false };
      outcome.renewals.push(renewal);
      holdersOfNew = new Set();
      for (const [name, status] of outcome.status) if (status !== 3) setStatus(name, 2, startsAt); // R10
      noteGroup(startsAt);
    }
  };

  /** R11, R12: what a check-in changes. */
  const checkIn = (name: string, at: number) => {
    const status = outcome.status.get(name);
    if (!renewal || status === undefined || status === 3 || !byName.get(name)!.renews) return;
    if (renewal.issuedAt === null) {
      renewal.issuedAt = at; // R11: the first eligible machine to check in issues the new key
      renewal.issuer = name;
      noteGroup(at);
    } else if (holdersOfNew.has(name)) {
      return;
    } else {
      renewal.takers.push({ machine: name, at }); // R12
    }
    holdersOfNew.add(name);
    keyReceivedAt.set(name, at);
    setStatus(name, 1, at);
  };

  // R17: once any renewal key was issued, the password the scenario types (never regenerated in
  // this model) holds a key that is no longer primary. R16: an expired group admits nobody.
  const passwordAccepted = () => outcome.groupExpiredAt === null && !outcome.renewals.some((r) => r.issuedAt !== null);
  /** The status of a machine arriving now with the primary key: R10 during a renewal before its key exists, else R7. */
  const arrival = (): Status => (renewal !== null && renewal.issuedAt === null ? 2 : 1);

  const join = (name: string, at: number) => {
    if (!passwordAccepted()) {
      outcome.refusedJoins.push(name);
      return false;
    }
    if (keyCreatedAt === null) {
      keyCreatedAt = at; // R7: the first machine issues key 1
      noteGroup(at);
    }
    outcome.checkIns.set(name, [at]); // joining counts as a check-in (R21)
    keyReceivedAt.set(name, at);
    setStatus(name, arrival(), at);
    checkIn(name, at);
    return true;
  };

  const rejoin = (name: string, at: number) => {
    if (!outcome.status.has(name) || !passwordAccepted()) {
      outcome.refusedRejoins.push({ machine: name, at });
      return;
    }
    // R17: the machine takes the primary key again (R10, R12: still waiting when that key is the one being renewed).
    checkedIn(name, at);
    keyReceivedAt.set(name, at);
    setStatus(name, arrival(), at);
  };

  noteGroup(fleet.start);
  const queue: Moment[] = [];
  for (const m of fleet.machines) {
    if (m.joinAt !== null && m.joinAt < fleet.end) queue.push({ at: m.joinAt, rank: 0, name: m.name });
    for (const at of m.rejoinAt ?? []) if (at < fleet.end) queue.push({ at, rank: 2, name: m.name });
  }
  // Process moments in time order; joins add their machine's later check-ins to the queue.
  const order = (a: Moment, b: Moment) => a.at - b.at || a.rank - b.rank || a.name.localeCompare(b.name);
  queue.sort(order);
  while (queue.length > 0) {
    const moment = queue.shift()!;
    processDue(moment.at);
    if (moment.rank === 0) {
      if (join(moment.name, moment.at)) {
        for (const at of cadence(byName.get(moment.name)!, moment.at, fleet)) queue.push({ at, rank: 1, name: moment.name });
        queue.sort(order);
      }
    } else if (moment.rank === 1) {
      checkedIn(moment.name, moment.at);
      checkIn(moment.name, moment.at);
    } else {
      rejoin(moment.name, moment.at);
    }
  }
  processDue(fleet.end);
  for (const beats of outcome.checkIns.values()) beats.sort((a, b) => a - b);
  return outcome;
}
