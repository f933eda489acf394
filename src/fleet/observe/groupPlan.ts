/**
 * One group's keys, renewal and members' key versions worked out from what its row shows (R3, R10,
 * R22): an export holds no event history, so the import reconstructs the facts the rules need.
 */
import type { ImportedKeyFacts } from '../../domain/events.js';
import { plusMinutes, toIso, type Instant } from '../../domain/time.js';
import type { ImportedGroupPlan, ObservedGroup, ObservedMachine } from './observed.js';

/**
 * The keys, renewal and members' key versions of one group, from what its row shows (R3,
 * R10, R22). During a renewal with the new key issued, the retiring key (secondarypublickey) is
 * version 1 and the primary version 2; the window ends at rekey_renewalendsat when the export shows
 * it, else at the seed's "Creation Date + Grace Period" of the new key. A renewal whose key is not
 * issued yet shows as rekey_renewalstate Renewing or, in a plain Dataverse export, as members with
 * PendingNewKey.
 */
export function planGroup(group: ObservedGroup, members: readonly ObservedMachine[], observedAt: Instant): ImportedGroupPlan {
  const keys: ImportedKeyFacts[] = [];
  let renewal: { startsAt: Instant; endsAt: Instant } | null = null;
  const c = group.keyCreatedAt;
  if (group.primary !== null && c !== null) {
    const notAfter = plusMinutes(c, group.keyValidity);
    if (group.secondary !== null && !group.expired) {
      const endsAt = group.renewalEndsAt ?? plusMinutes(c, group.grace);
      const startsAt = Math.min(c, plusMinutes(endsAt, -group.grace));
      keys.push({ version: 1, thumbprint: group.secondary, createdAt: toIso(plusMinutes(endsAt, -group.validity)), validityMinutes: group.validity, notAfter: toIso(endsAt), estimated: true });
      keys.push({ version: 2, thumbprint: group.primary, createdAt: toIso(c), validityMinutes: group.keyValidity, notAfter: toIso(notAfter), estimated: false });
      renewal = { startsAt, endsAt };
    } else {
      keys.push({ version: 1, thumbprint: group.primary, createdAt: toIso(c), validityMinutes: group.keyValidity, notAfter: toIso(notAfter), estimated: false });
      const pending = members.some((m) => m.status === 2);
      const renewing = !group.expired && (group.renewalState === 'Renewing' || (group.renewalState === null && pending));
      if (renewing) {
        const due = plusMinutes(c, Math.min(group.keyValidity, group.validity) - group.grace);
        const startsAt = group.nextRenewalDate ?? Math.min(due, observedAt);
        renewal = { startsAt, endsAt: group.renewalEndsAt ?? Math.min(notAfter, plusMinutes(startsAt, group.grace)) };
      }
    }
  }
  const newKeyIssued = keys.length === 2;
  const primaryVersion = keys.at(-1)?.version;
  return {
    group,
    keys,
    renewal,
    members: members.map((machine) => {
      let keyVersions: number[] = [];
      if (!group.expired && machine.status !== 3 && primaryVersion !== undefined) {
        keyVersions = newKeyIssued ? (machine.status === 1 ? [1, 2] : [1]) : [primaryVersion];
      }
      return { machine, keyVersions };
    }),
  };
}
