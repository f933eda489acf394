/**
 * What a check-in tells a member to do next: nothing, issue the renewal key (R11), take the new key
 * (R12), rejoin after it missed a renewal (R15), and which connections to re-encrypt (R14). Kept apart
 * from the routes so the renewal as an agent sees it reads in one place.
 */
import { takesPartInRenewals } from '../../domain/agentVersion.js';
import { keyByVersion, type GroupState, type Member } from '../../domain/group/state.js';
import type { Engine } from '../../engine/engine.js';
import type { CheckInAction, ReencryptOrder } from '../protocol.js';

/**
 * `holdFor` holds the test clock while the member builds the certificate and returns "now" as the
 * certificate must say it (see ClockHolds).
 */
export function decideAction(state: GroupState, member: Member, held: Set<string>, holdFor: (key: string) => string): CheckInAction {
  if (state.lifecycle !== 'active') return { kind: 'none' };
  if (member.status === 3) {
    return { kind: 'rejoin', reason: `machine ${member.name} missed the renewal of ${state.name} (KeyExpired); regenerate the group password on a machine that holds the new key, then rejoin with it (rekey agent --rejoin)` };
  }
  const renewal = state.renewal;
  if (!renewal || !takesPartInRenewals(member.agentVersion)) return { kind: 'none' };
  const oldKey = keyByVersion(state, renewal.oldVersion)!;
  if (!member.keyVersions.includes(renewal.oldVersion) || !held.has(oldKey.thumbprint)) return { kind: 'none' };
  if (renewal.newVersion === null) {
    return { kind: 'issue', issueAt: holdFor(`issue:${member.name}`), validityMinutes: state.effective.validity, version: oldKey.version + 1, oldKeyThumbprint: oldKey.thumbprint };
  }
  const newKey = keyByVersion(state, renewal.newVersion)!;
  if (member.keyVersions.includes(newKey.version) && held.has(newKey.thumbprint)) return { kind: 'none' };
  return { kind: 'take', key: { version: newKey.version, thumbprint: newKey.thumbprint, certificatePem: newKey.certificatePem, wrappedUnderPrevious: newKey.wrappedUnderPrevious! } };
}

export function reencryptOrders(engine: Engine, state: GroupState, member: Member): ReencryptOrder[] {
  const renewal = state.renewal;
  if (!state.proactiveReencryption || !renewal || renewal.newVersion === null || member.status === 3) return [];
  const oldKey = keyByVersion(state, renewal.oldVersion)!;
  const newKey = keyByVersion(state, renewal.newVersion)!;
  if (!member.keyVersions.includes(oldKey.version) || !member.keyVersions.includes(newKey.version)) return [];
  const orders: ReencryptOrder[] = [];
  for (const connection of engine.fleet.connectionsTargeting(state.name, [member.name])) {
    if (connection.needsFix || connection.ciphertexts.some((c) => c.thumbprint === newKey.thumbprint)) continue;
    const old = connection.ciphertexts.find((c) => c.thumbprint === oldKey.thumbprint);
    if (old) orders.push({ connection: connection.name, ciphertext: old, newCertificate: { thumbprint: newKey.thumbprint, pem: newKey.certificatePem } });
  }
  return orders;
}
