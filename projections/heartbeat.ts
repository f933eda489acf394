/**
 * R21: `lastheartbeatdate` is derived from session facts, not from an event per check-in. A session
 * starts when a member joins (interval 1,440 minutes) or connects (the interval its MachineConnected
 * names, counted from its `sessionStartedAt`: the online interval's start, before the join for a
 * machine that joined part-way through it) and ends when it disconnects or leaves its group (a
 * simulation ends every session at its `end`). Inside a session the machine checks in at t0,
 * t0 + i, t0 + 2i, ... (half-open: a check-in due exactly at the session's end does not happen), the
 * schedule the simulator's agents check in on; the log records only the anchors, not every check-in.
 * Facts recorded at a check-in that changed something (MachineCheckedIn, MachineKeyDelivered, a
 * renewal KeyIssued, a rejoin, an agent version report, a password regeneration) count as well.
 */
import { MS_PER_MINUTE, type Instant } from '../src/domain/time.js';

export interface HeartbeatBasis {
  /** t0 of the latest session, or null when the machine never had one. */
  readonly sessionStart: Instant | null;
  /** Minutes between check-ins in that session. */
  readonly intervalMinutes: number;
  /** Exclusive end of the latest session; null while it lasts. */
  readonly sessionEnd: Instant | null;
  /** The latest check-in recorded by a fact of its own. */
  readonly lastCheckIn: Instant | null;
}

export const NO_HEARTBEAT: HeartbeatBasis = { sessionStart: null, intervalMinutes: 1440, sessionEnd: null, lastCheckIn: null };

export function startSession(basis: HeartbeatBasis, at: Instant, intervalMinutes: number): HeartbeatBasis {
  return { ...basis, sessionStart: at, intervalMinutes, sessionEnd: null };
}

export function endSession(basis: HeartbeatBasis, at: Instant): HeartbeatBasis {
  return basis.sessionStart !== null && basis.sessionEnd === null ? { ...basis, sessionEnd: at } : basis;
}

export function checkedIn(basis: HeartbeatBasis, at: Instant): HeartbeatBasis {
  return basis.lastCheckIn !== null && basis.lastCheckIn >= at ? basis : { ...basis, lastCheckIn: at };
}

/** The last check-in at or before `at`: for a live session the latest t0 + k*i <= at; for an ended one, strictly before its end. */
export function heartbeatAt(basis: HeartbeatBasis, at: Instant): Instant | null {
  let latest: Instant | null = basis.lastCheckIn !== null && basis.lastCheckIn <= at ? basis.lastCheckIn : null;
  const start = basis.sessionStart;
  if (start !== null && start <= at) {
    const step = Math.max(1, basis.intervalMinutes) * MS_PER_MINUTE;
    let k = Math.floor((at - start) / step);
    if (basis.sessionEnd !== null) {
      // The last k with start + k*step < end; none when the session was empty.
      const lastBeforeEnd = Math.ceil((basis.sessionEnd - start) / step) - 1;
      k = Math.min(k, lastBeforeEnd);
    }
    if (k >= 0) {
      const sessionBeat = start + k * step;
      if (latest === null || sessionBeat > latest) latest = sessionBeat;
    }
  }
  return latest;
}
