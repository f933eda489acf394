/**
 * A small, independent model of the seed's renewal rules for one machine group with constant
 * settings, written from the seed and the rules of docs/model.md, not from the engine's code. The property
 * suite runs the real engine on the same fleet and compares.
 *
 * The model's world: machines join at `joinAt` (the first one issues key 1), check in at their join
 * and every `interval` minutes of their online sessions; nothing else happens.
 */
export interface ModelMachine {
  readonly name: string;
  readonly renews: boolean; // agent 2.23 or above
  readonly joinAt: number | null;
  readonly online: readonly { from: number; to: number }[];
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

export interface ModelOutcome {
  readonly renewals: ModelRenewal[];
  groupExpiredAt: number | null;
  readonly refusedJoins: string[];
  /** Final key delivery status of every member: 1 Default, 2 PendingNewKey, 3 KeyExpired. */
  readonly status: Map<string, 1 | 2 | 3>;
}

interface Moment {
  at: number;
  rank: number; // 0 join (with its own check-in), 1 check-in
  name: string;
}

/** Check-in instants of a machine that joined at `joinedAt`: its join, then its sessions' cadence. */
function checkIns(machine: ModelMachine, joinedAt: number, fleet: ModelFleet): number[] {
  const instants: number[] = [];
  for (const { from, to } of machine.online) {
    for (let at = from; at < to && at < fleet.end; at += fleet.checkInMs) {
      if (at > joinedAt) instants.push(at);
    }
  }
  return instants;
}

export function runModel(fleet: ModelFleet): ModelOutcome {
  const outcome: ModelOutcome = { renewals: [], groupExpiredAt: null, refusedJoins: [], status: new Map() };
  const byName = new Map(fleet.machines.map((m) => [m.name, m]));
  let keyCreatedAt: number | null = null;
  let renewal: ModelRenewal | null = null;
  /** Members holding the newest key of the current renewal. */
  let holdersOfNew = new Set<string>();

  const moments: Moment[] = fleet.machines
    .filter((m) => m.joinAt !== null && m.joinAt < fleet.end)
    .map((m) => ({ at: m.joinAt!, rank: 0, name: m.name }));

  const processDue = (until: number) => {
    for (;;) {
      if (outcome.groupExpiredAt !== null || keyCreatedAt === null) return;
      if (renewal) {
        if (renewal.endsAt > until) return;
        // The old key retires at E: who did not take the new key is KeyExpired (R15).
        const r: ModelRenewal = renewal;
        r.retired = true;
        for (const [name, status] of outcome.status) if (!holdersOfNew.has(name) && status !== 3) outcome.status.set(name, 3);
        if (r.issuedAt === null || holdersOfNew.size === 0) {
          outcome.groupExpiredAt = r.endsAt; // R16
          return;
        }
        keyCreatedAt = r.issuedAt;
        renewal = null;
        continue;
      }
      const startsAt = keyCreatedAt + fleet.validityMs - fleet.graceMs; // seed: creation + (validity - grace)
      if (startsAt > until) return;
      renewal = { startsAt, endsAt: keyCreatedAt + fleet.validityMs, issuedAt: null, issuer: null, takers: [], retired: false };
      outcome.renewals.push(renewal);
      holdersOfNew = new Set();
      for (const [name, status] of outcome.status) if (status !== 3) outcome.status.set(name, 2); // R10
    }
  };

  const checkIn = (name: string, at: number) => {
    const status = outcome.status.get(name);
    if (!renewal || status === undefined || status === 3 || !byName.get(name)!.renews) return;
    if (renewal.issuedAt === null) {
      renewal.issuedAt = at; // R11: the first eligible machine to check in issues the new key
      renewal.issuer = name;
    } else if (holdersOfNew.has(name)) {
      return;
    } else {
      renewal.takers.push({ machine: name, at }); // R12
    }
    holdersOfNew.add(name);
    outcome.status.set(name, 1);
  };

  const join = (name: string, at: number) => {
    // R16: an expired group admits nobody. R17: once any renewal key was issued, the password the
    // scenario types (never regenerated in this model) holds a key that is no longer primary.
    const passwordStale = outcome.renewals.some((r) => r.issuedAt !== null);
    if (outcome.groupExpiredAt !== null || passwordStale) {
      outcome.refusedJoins.push(name);
      return false;
    }
    if (keyCreatedAt === null) keyCreatedAt = at; // R7: the first machine issues key 1
    outcome.status.set(name, 1); // R7: a new member starts Default
    checkIn(name, at); // joining counts as a check-in (R21)
    return true;
  };

  // Process moments in time order; joins add their machine's later check-ins to the queue.
  const queue = [...moments];
  const order = (a: Moment, b: Moment) => a.at - b.at || a.rank - b.rank || a.name.localeCompare(b.name);
  queue.sort(order);
  while (queue.length > 0) {
    const moment = queue.shift()!;
    processDue(moment.at);
    if (moment.rank === 0) {
      if (join(moment.name, moment.at)) {
        for (const at of checkIns(byName.get(moment.name)!, moment.at, fleet)) queue.push({ at, rank: 1, name: moment.name });
        queue.sort(order);
      }
    } else {
      checkIn(moment.name, moment.at);
    }
  }
  processDue(fleet.end);
  return outcome;
}
