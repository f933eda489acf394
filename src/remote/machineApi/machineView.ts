/**
 * A member as the machine API shows it to itself, and the member checks the endpoints share: a
 * caller gets an answer only about a machine that is a member, and only about keys it holds.
 */
import { liveKeys, passwordRegenerationRequired, type GroupState, type Member } from '../../domain/group/state.js';
import { toIso } from '../../domain/time.js';
import type { MachineView } from '../protocol.js';
import { MachineApiError } from './errors.js';

export function requireMember(state: GroupState, machine: string): Member {
  const member = state.members[machine];
  if (!member) throw new MachineApiError(403, 'GROUP_MISMATCH', `machine ${machine} is not a member of machine group ${state.name}`);
  return member;
}

export function heldLiveThumbprints(state: GroupState, member: Member): Set<string> {
  if (member.status === 3) return new Set();
  return new Set(liveKeys(state).filter((key) => member.keyVersions.includes(key.version)).map((key) => key.thumbprint));
}

export function machineView(state: GroupState, member: Member): MachineView {
  const renewal = state.renewal;
  return {
    group: state.name,
    machine: member.name,
    machineId: member.machineId,
    status: member.status,
    keyVersions: [...member.keyVersions],
    liveKeys: liveKeys(state).map((key) => ({ version: key.version, thumbprint: key.thumbprint, certificatePem: key.certificatePem, primary: key.version === state.primaryVersion })),
    groupState: state.lifecycle,
    renewal: renewal ? { oldVersion: renewal.oldVersion, newVersion: renewal.newVersion, startsAt: toIso(renewal.startsAt), endsAt: toIso(renewal.endsAt) } : null,
    passwordRegenerationRequired: passwordRegenerationRequired(state),
  };
}
