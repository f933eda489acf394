/**
 * Which rule (R1-R22, docs/rules.md) made each kind of event, and in a sentence why it happened:
 * the links of the rule chain `rekey explain` prints. Read from the event's own data; no rule is
 * decided here (the deciders decided when the event was recorded).
 */
export interface RuleLink {
  readonly rules: readonly string[];
  readonly why: string;
}

type Data = Record<string, unknown>;
const str = (value: unknown) => String(value);

const LINKS: Record<string, (data: Data) => RuleLink> = {
  GroupCreated: (d) => ({ rules: ['R1', 'R2'], why: `created with keyValidityPeriod ${str(d.keyValidityPeriod)} and keyExpiryGracePeriod ${str(d.keyExpiryGracePeriod)} minutes; empty, with no key (R7)` }),
  GroupImported: (d) => ({ rules: [], why: `imported as an export showed it (${str(d.source)}); its history before is unknown` }),
  KeyIssued: (d) => d.version === 1
    ? { rules: ['R7'], why: `the first machine that joined, ${str(d.issuedBy)}, issued the first certificate (version 1, valid ${str(d.validityMinutes)} minutes to ${str(d.notAfter)})` }
    : { rules: ['R11', 'R22'], why: `${str(d.issuedBy)}, the first eligible machine to check in during the renewal, issued key version ${str(d.version)} (valid ${str(d.validityMinutes)} minutes, the validity in force); it is the primary from now on` },
  GroupPasswordSet: (d) => ({ rules: ['R7'], why: `${str(d.machine)} set the group password (a PKCS#12 package only the customer's password opens)` }),
  MachineJoined: (d) => ({ rules: ['R7', 'R9'], why: `${str(d.machine)} joined with the group password (agent ${str(d.agentVersion)}); status Default` }),
  MachineImported: (d) => ({ rules: [], why: `${str(d.machine)} imported as an export showed it (${str(d.source)})` }),
  MachineRejoined: (d) => ({ rules: ['R17'], why: `${str(d.machine)} rejoined with the regenerated password and received the primary key` }),
  MachineLeft: (d) => d.reason === 'groupDeleted'
    ? { rules: ['R19'], why: `${str(d.machine)} left because its group was deleted` }
    : { rules: ['R9'], why: `${str(d.machine)} was removed from the group` },
  MachineConnected: (d) => ({ rules: ['R21'], why: `${str(d.machine)} came online; it checks in every ${str(d.checkInIntervalMinutes)} minutes from the start of its session` }),
  MachineDisconnected: (d) => ({ rules: ['R21'], why: `${str(d.machine)} went offline` }),
  MachineCheckedIn: (d) => ({ rules: ['R21'], why: `${str(d.machine)} checked in` }),
  AgentVersionReported: (d) => ({ rules: ['R8'], why: `${str(d.machine)} reported agent version ${str(d.agentVersion)} (2.23 and above take part in renewals)` }),
  KeyValidityPeriodChanged: (d) => ({ rules: ['R1', 'R4'], why: `keyValidityPeriod set to ${str(d.minutes)} minutes, picked up at ${str(d.pickupAt)}` }),
  KeyExpiryGracePeriodChanged: (d) => ({ rules: ['R2', 'R4'], why: `keyExpiryGracePeriod set to ${str(d.minutes)} minutes, picked up at ${str(d.pickupAt)}` }),
  ProactiveReencryptionChanged: (d) => ({ rules: ['R14'], why: `proactive re-encryption turned ${d.enabled ? 'on' : 'off'}` }),
  SettingsPickedUp: (d) => ({ rules: ['R4', 'R5'], why: `settings in force from now on: validity ${str(d.keyValidityPeriod)}, grace ${str(d.keyExpiryGracePeriod)} minutes` }),
  RenewalStarted: (d) => ({ rules: ['R3', 'R10'], why: `the renewal of key version ${str(d.keyVersion)} started; its window ends at ${str(d.endsAt)}; every member became PendingNewKey` }),
  MachineKeyDelivered: (d) => ({ rules: ['R12'], why: `${str(d.machine)} checked in and took key version ${str(d.keyVersion)}; status Default` }),
  KeyExpired: (d) => ({ rules: ['R15', 'R19'], why: `key version ${str(d.keyVersion)} retired (at the end of its renewal window, or with its group)` }),
  MachineKeyExpired: (d) => ({ rules: ['R15'], why: `${str(d.machine)} had not taken the new key when key version ${str(d.keyVersion)} retired: KeyExpired, RequiresGroupKey` }),
  GroupKeyExpired: (d) => ({ rules: ['R16'], why: `the group's key expired: ${str(d.reason)}` }),
  GroupPasswordRegenerated: (d) => ({ rules: ['R17'], why: `${str(d.machine)} regenerated the group password with the primary key; the key icon and message cleared` }),
  GroupDeleted: () => ({ rules: ['R19'], why: 'the group was deleted: its keys are invalid, connections that target it need fixing' }),
  ConnectionCreated: (d) => ({ rules: ['R14', 'R18'], why: `created with credentials encrypted to ${Array.isArray(d.ciphertexts) ? d.ciphertexts.length : '?'} live key(s) of its target` }),
  ConnectionImported: (d) => ({ rules: [], why: `imported as an export showed it (${str(d.source)})` }),
  ConnectionRun: (d) => ({ rules: ['R13'], why: `ran on ${str(d.machine)} with key ${str(d.keyThumbprint).slice(0, 12)}…` }),
  ConnectionRunFailed: (d) => ({ rules: ['R15', 'R18'], why: `a run failed: ${str(d.reason)}` }),
  ConnectionReencrypted: (d) => ({ rules: ['R14'], why: `${str(d.machine)} added the ciphertext for the new key${d.proactive ? ' (proactive re-encryption)' : ' during a run'}` }),
  ConnectionCiphertextDropped: (d) => ({ rules: ['R14'], why: `the ciphertext for retired key ${str(d.keyThumbprint).slice(0, 12)}… was dropped` }),
  ConnectionNeedsFix: (d) => ({ rules: ['R15', 'R16', 'R19', 'R20'], why: `Fix connection: ${str(d.reason)}` }),
  ConnectionFixed: () => ({ rules: ['R18'], why: 'the credentials were re-entered and encrypted to the live key(s)' }),
  MachineRegistered: (d) => ({ rules: ['R20'], why: `${str(d.name)} registered its own certificate, so connections can target it alone` }),
};

export function ruleLink(type: string, data: Data): RuleLink {
  const link = LINKS[type];
  return link ? link(data) : { rules: [], why: type };
}
