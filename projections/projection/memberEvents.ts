/**
 * Which members a group event touches: the one member its data names (so the fold can write that
 * member in place and compare only its row), and the member whose session edge or check-in it
 * records (R21: the facts `lastheartbeatdate` is computed from).
 */
import type { GroupEvent, Timed } from '../../src/domain/events.js';

/** Events whose data names a machine that was online at that instant (R21: check-ins that changed something). */
const CHECK_IN_FACTS: ReadonlySet<string> = new Set([
  'MachineCheckedIn', 'MachineKeyDelivered', 'MachineRejoined', 'AgentVersionReported', 'GroupPasswordRegenerated',
]);

/**
 * Event types whose evolve changes at most the member their data names (withMember/withoutMember
 * in evolveGroup); for every other type that changes the members (RenewalStarted, KeyExpired,
 * GroupDeleted, ...) all members are compared.
 */
export const SINGLE_MEMBER_EVENTS: ReadonlySet<string> = new Set([
  'MachineJoined', 'MachineRejoined', 'MachineLeft', 'MachineConnected', 'MachineDisconnected', 'MachineCheckedIn',
  'AgentVersionReported', 'MachineKeyDelivered', 'MachineKeyExpired', 'KeyIssued', 'MachineImported',
]);

export function memberNamedBy(event: Timed<GroupEvent>): string | undefined {
  if (event.type === 'KeyIssued') return event.data.issuedBy;
  const data = event.data as { machine?: unknown };
  return typeof data.machine === 'string' ? data.machine : undefined;
}

/** The member whose session edge or check-in the event records (R21), if any. */
export function checkInOf(event: Timed<GroupEvent>): string | undefined {
  if (event.type === 'MachineConnected' || event.type === 'MachineDisconnected' || CHECK_IN_FACTS.has(event.type)) {
    return (event.data as { machine: string }).machine;
  }
  return event.type === 'KeyIssued' ? event.data.issuedBy : undefined; // the issuer checked in (R11)
}
