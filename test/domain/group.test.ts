import { describe, expect, it } from 'vitest';
import { passwordRegenerationRequired, PORTAL_MESSAGE, primaryKey, secondaryKey, liveKeys } from '../../src/domain/group/state.js';
import { nextDue, scheduledRenewalStart } from '../../src/domain/group/schedule.js';
import { GroupUnderTest, T0, at, refusal } from './fixtures.js';

const V = 2_628_000;
const G = 259_200;
const S = at(V - G);
const E = at(V);

/** A group with FIN-01 (issuer of K1) and FIN-02, FIN-03 joined with the password. */
function fleetOfThree(options: { validity?: number; grace?: number } = {}) {
  const group = GroupUnderTest.created(options);
  group.firstJoin(T0);
  group.join(at(10), 'FIN-02', 'K1');
  group.join(at(20), 'FIN-03', 'K1');
  return group;
}

describe('R7: the first machine issues the group certificate', () => {
  it('a group starts empty, with no key', () => {
    const group = GroupUnderTest.created();
    expect(group.state.keys).toEqual([]);
    expect(scheduledRenewalStart(group.state)).toBeNull();
  });
  it('the first join records KeyIssued version 1, the password package and the member with status Default', () => {
    const group = GroupUnderTest.created();
    group.firstJoin(T0);
    expect(group.types()).toEqual(['GroupCreated', 'MachineJoined', 'KeyIssued', 'GroupPasswordSet']);
    expect(primaryKey(group.state)).toMatchObject({ version: 1, thumbprint: 'K1', createdAt: T0, notAfter: E });
    expect(group.state.members['FIN-01']).toMatchObject({ status: 1, keyVersions: [1] });
  });
  it('a later machine joins with the key found in the password package', () => {
    const group = fleetOfThree();
    expect(group.state.members['FIN-03']).toMatchObject({ status: 1, keyVersions: [1] });
  });
  it('a certificate whose dates disagree with the join instant is refused', () => {
    const group = GroupUnderTest.created();
    const error = refusal(() => group.do(T0, {
      type: 'JoinMachine', machineId: 'x', machine: 'FIN-01', agentVersion: '2.23', memberOfGroup: null,
      credential: { kind: 'firstKey', certificate: { pem: 'p', thumbprint: 'K1', notBefore: T0, notAfter: at(100) }, passwordPackage: 'x' },
    }));
    expect(error.code).toBe('CERTIFICATE_DATES_MISMATCH');
    expect(group.types()).toEqual(['GroupCreated']);
  });
  it('a second machine cannot bring its own first key', () => {
    const group = fleetOfThree();
    const error = refusal(() => group.do(at(30), {
      type: 'JoinMachine', machineId: 'x', machine: 'FIN-09', agentVersion: '2.23', memberOfGroup: null,
      credential: { kind: 'firstKey', certificate: { pem: 'p', thumbprint: 'K9', notBefore: at(30), notAfter: at(30 + V) }, passwordPackage: 'x' },
    }));
    expect(error.code).toBe('GROUP_HAS_KEY');
  });
});

describe('R9: membership limits', () => {
  it('a group holds at most 50 machines', () => {
    const group = GroupUnderTest.created();
    group.firstJoin(T0, 'M-00');
    for (let i = 1; i < 50; i++) group.join(at(i), `M-${String(i).padStart(2, '0')}`, 'K1');
    const error = refusal(() => group.join(at(60), 'M-50', 'K1'));
    expect(error.code).toBe('GROUP_FULL');
    expect(error.message).toContain('maximum is 50');
  });
  it('a machine of another group cannot join', () => {
    const group = fleetOfThree();
    const error = refusal(() => group.do(at(30), { type: 'JoinMachine', machineId: 'x', machine: 'HR-01', agentVersion: '2.23', memberOfGroup: 'HR', credential: { kind: 'password', keyThumbprint: 'K1' } }));
    expect(error.code).toBe('MACHINE_IN_OTHER_GROUP');
  });
  it('a member cannot join twice', () => {
    expect(refusal(() => fleetOfThree().join(at(30), 'FIN-02', 'K1')).code).toBe('MACHINE_ALREADY_MEMBER');
  });
});

describe('R10: renewal starts at S', () => {
  it('nothing happens a minute before S; at S RenewalStarted and every member is PendingNewKey', () => {
    const group = fleetOfThree();
    expect(group.tick(S - 60_000)).toEqual([]);
    const events = group.tick(S);
    expect(events).toMatchObject([{ type: 'RenewalStarted', at: S, data: { keyVersion: 1, startsAt: '2030-07-04T00:00:00.000Z', endsAt: '2030-12-31T00:00:00.000Z' } }]);
    for (const member of Object.values(group.state.members)) expect(member.status).toBe(2);
    expect(passwordRegenerationRequired(group.state)).toBe(true);
    expect(PORTAL_MESSAGE).toContain('Re-generate a machine group password before adding a new machine.');
  });
  it('a scheduler that was down across S records the start at S, not when it returns', () => {
    const group = fleetOfThree();
    const events = group.tick(S + 10 * 1440 * 60_000);
    expect(events[0]).toMatchObject({ type: 'RenewalStarted', at: S });
  });
});

describe('R11, R12, R22: issuing and taking the new key', () => {
  function renewing() {
    const group = fleetOfThree();
    group.tick(S);
    return group;
  }
  it('the first eligible machine to check in issues version 2 with c = that instant, and it becomes primary', () => {
    const group = renewing();
    group.issue(S + 60_000, 'FIN-02', 'K2');
    expect(primaryKey(group.state)).toMatchObject({ version: 2, thumbprint: 'K2', createdAt: S + 60_000, validity: V });
    expect(secondaryKey(group.state)?.thumbprint).toBe('K1');
    expect(group.state.members['FIN-02']).toMatchObject({ status: 1, keyVersions: [1, 2], keyReceivedAt: S + 60_000 });
    expect(group.state.rotationStartedBy).toBe('FIN-02');
  });
  it('a second issuer is refused: exactly one new key per renewal', () => {
    const group = renewing();
    group.issue(S + 60_000, 'FIN-02', 'K2');
    expect(refusal(() => group.issue(S + 120_000, 'FIN-03', 'K2b')).code).toBe('KEY_ALREADY_ISSUED');
  });
  it('other members take the key even while the issuer is offline', () => {
    const group = renewing();
    group.issue(S + 60_000, 'FIN-02', 'K2');
    group.do(S + 120_000, { type: 'DisconnectMachine', machine: 'FIN-02' });
    const events = group.do(S + 180_000, { type: 'AcceptNewKey', machine: 'FIN-03' });
    expect(events).toMatchObject([{ type: 'MachineKeyDelivered', data: { machine: 'FIN-03', keyVersion: 2, keyThumbprint: 'K2' } }]);
    expect(group.state.members['FIN-03']).toMatchObject({ status: 1, keyReceivedAt: S + 180_000 });
  });
  it('taking the key twice records nothing the second time', () => {
    const group = renewing();
    group.issue(S + 60_000, 'FIN-02', 'K2');
    group.do(S + 120_000, { type: 'AcceptNewKey', machine: 'FIN-03' });
    expect(group.do(S + 180_000, { type: 'AcceptNewKey', machine: 'FIN-03' })).toEqual([]);
  });
  it('the new key must be wrapped under the current key', () => {
    const group = renewing();
    const error = refusal(() => group.do(S, { type: 'IssueRenewalKey', machine: 'FIN-02', certificate: { pem: 'p', thumbprint: 'K2', notBefore: S, notAfter: S + V * 60_000 }, wrappedUnderPrevious: { alg: 'RSA-OAEP-256+A256GCM', thumbprint: 'K0', encryptedKey: '', iv: '', tag: '', ciphertext: '' } }));
    expect(error.code).toBe('KEY_NOT_HELD');
  });
  it('outside a renewal no key can be issued', () => {
    expect(refusal(() => fleetOfThree().issue(at(100), 'FIN-02', 'K2')).code).toBe('NO_RENEWAL_IN_PROGRESS');
  });
});

describe('R8: outdated agents miss renewals', () => {
  it('a 2.21 agent can neither issue nor take the new key, and ends KeyExpired', () => {
    const group = GroupUnderTest.created();
    group.firstJoin(T0);
    group.join(at(1), 'OLD-01', 'K1', '2.21.0.0');
    group.tick(S);
    expect(refusal(() => group.issue(S, 'OLD-01', 'K2')).code).toBe('AGENT_OUTDATED');
    group.issue(S + 60_000, 'FIN-01', 'K2');
    expect(refusal(() => group.do(S + 120_000, { type: 'AcceptNewKey', machine: 'OLD-01' })).message).toContain('renewals need version 2.23 or above');
    group.tick(E);
    expect(group.state.members['OLD-01']?.status).toBe(3);
    expect(group.state.lifecycle).toBe('active');
  });
  it('an updated agent (2.22 -> 2.24) takes part', () => {
    const group = GroupUnderTest.created();
    group.firstJoin(T0, 'OLD-01', '2.22.0.0');
    group.do(at(5), { type: 'ReportAgentVersion', machine: 'OLD-01', agentVersion: '2.24.0.0' });
    group.tick(S);
    expect(group.issue(S, 'OLD-01', 'K2')).toHaveLength(1);
  });
});

describe('R13, R15: the old key retires at E', () => {
  it('members that did not take the new key get KeyExpired at E, not a minute before', () => {
    const group = fleetOfThree();
    group.tick(S);
    group.issue(S, 'FIN-01', 'K2');
    group.do(S + 60_000, { type: 'AcceptNewKey', machine: 'FIN-02' });
    expect(group.tick(E - 60_000)).toEqual([]);
    expect(liveKeys(group.state).map((key) => key.thumbprint)).toEqual(['K1', 'K2']);
    const events = group.tick(E);
    expect(events.map((event) => event.type)).toEqual(['KeyExpired', 'MachineKeyExpired']);
    expect(events[1]).toMatchObject({ data: { machine: 'FIN-03' }, at: E });
    expect(group.state.members['FIN-03']?.status).toBe(3);
    expect(liveKeys(group.state).map((key) => key.thumbprint)).toEqual(['K2']);
    expect(secondaryKey(group.state)).toBeUndefined();
  });
  it('a machine that checks in exactly at E is too late: retirement comes first', () => {
    const group = fleetOfThree();
    group.tick(S);
    group.issue(S, 'FIN-01', 'K2');
    group.tick(E);
    expect(refusal(() => group.do(E, { type: 'AcceptNewKey', machine: 'FIN-02' })).code).toBe('NO_RENEWAL_IN_PROGRESS');
  });
});

describe('R16: a group whose renewal nobody took expires', () => {
  it('all machines offline through the window: no key is issued and the group becomes unusable', () => {
    const group = fleetOfThree();
    group.tick(S);
    const events = group.tick(E);
    expect(events.map((event) => event.type)).toEqual(['KeyExpired', 'MachineKeyExpired', 'MachineKeyExpired', 'MachineKeyExpired', 'GroupKeyExpired']);
    expect(group.state.lifecycle).toBe('expired');
    const error = refusal(() => group.join(E + 60_000, 'FIN-09', 'K1'));
    expect(error.code).toBe('GROUP_KEY_EXPIRED');
    expect(error.message).toMatch(/^password is incorrect: /);
  });
  it('only deletion remains for an expired group', () => {
    const group = fleetOfThree();
    group.tick(E);
    expect(refusal(() => group.do(E + 1, { type: 'SetKeyValidityPeriod', minutes: 525_600, pickupDelayMinutes: 1440 })).code).toBe('GROUP_KEY_EXPIRED');
    expect(group.do(E + 2, { type: 'DeleteGroup' }).at(-1)).toMatchObject({ type: 'GroupDeleted' });
    expect(group.state.lifecycle).toBe('deleted');
  });
  it('an empty group expires (the seed corner case: the password is incorrect)', () => {
    const group = GroupUnderTest.created();
    group.firstJoin(T0);
    group.do(at(5), { type: 'RemoveMachine', machine: 'FIN-01' });
    group.tick(E);
    expect(group.events.at(-1)).toMatchObject({ type: 'GroupKeyExpired', data: { reason: 'the group was empty during its renewal' } });
  });
  it('if the only holder of the new key left before E, the group expires', () => {
    const group = fleetOfThree();
    group.tick(S);
    group.issue(S, 'FIN-01', 'K2');
    group.do(S + 1, { type: 'RemoveMachine', machine: 'FIN-01' });
    group.tick(E);
    expect(group.state.lifecycle).toBe('expired');
  });
});

describe('R17: password regeneration and rejoin', () => {
  function renewedWithoutFin03() {
    const group = fleetOfThree();
    group.tick(S);
    group.issue(S, 'FIN-01', 'K2');
    group.tick(E);
    return group;
  }
  it('from issuance on, the old password no longer admits machines', () => {
    const group = fleetOfThree();
    group.tick(S);
    group.issue(S, 'FIN-01', 'K2');
    const error = refusal(() => group.join(S + 60_000, 'FIN-09', 'K1'));
    expect(error.code).toBe('GROUP_PASSWORD_STALE');
    expect(error.message).toMatch(/^password is incorrect: /);
  });
  it('regeneration on a member holding the primary clears the message; a KeyExpired member then rejoins', () => {
    const group = renewedWithoutFin03();
    expect(passwordRegenerationRequired(group.state)).toBe(true);
    group.do(E + 1, { type: 'RegeneratePassword', machine: 'FIN-01', packageThumbprint: 'K2', passwordPackage: 'P12 K2' });
    expect(passwordRegenerationRequired(group.state)).toBe(false);
    expect(group.state.passwordChangedAt).toBe(E + 1);
    group.do(E + 2, { type: 'RejoinMachine', machine: 'FIN-03', agentVersion: '2.23', keyThumbprint: 'K2' });
    expect(group.state.members['FIN-03']).toMatchObject({ status: 1, keyVersions: [2], keyReceivedAt: E + 2 });
  });
  it('rejoining with the stale password is refused', () => {
    expect(refusal(() => renewedWithoutFin03().do(E + 2, { type: 'RejoinMachine', machine: 'FIN-03', agentVersion: '2.23', keyThumbprint: 'K1' })).code).toBe('GROUP_PASSWORD_STALE');
  });
  it('a member without the primary key cannot regenerate the password', () => {
    const error = refusal(() => renewedWithoutFin03().do(E + 1, { type: 'RegeneratePassword', machine: 'FIN-03', packageThumbprint: 'K2', passwordPackage: 'x' }));
    expect(error.code).toBe('KEY_NOT_HELD');
  });
});

describe('R4, R5, R2: settings changes', () => {
  it('a change is recorded at once and picked up 1,440 minutes later', () => {
    const group = fleetOfThree();
    const [changed] = group.do(at(100), { type: 'SetKeyExpiryGracePeriod', minutes: 129_600, pickupDelayMinutes: 1440 });
    expect(changed).toMatchObject({ type: 'KeyExpiryGracePeriodChanged', data: { minutes: 129_600 } });
    expect(group.state.recorded.grace).toBe(129_600);
    expect(group.state.effective.grace).toBe(G);
    expect(group.tick(at(100 + 1439))).toEqual([]);
    expect(group.tick(at(100 + 1440))).toMatchObject([{ type: 'SettingsPickedUp', data: { keyExpiryGracePeriod: 129_600 } }]);
  });
  it('R5: shortening the validity below the key age starts a renewal at pickup, lasting the grace', () => {
    const group = fleetOfThree();
    group.do(at(200_000), { type: 'SetKeyExpiryGracePeriod', minutes: 64_800, pickupDelayMinutes: 1440 });
    group.do(at(200_000), { type: 'SetKeyValidityPeriod', minutes: 129_600, pickupDelayMinutes: 1440 });
    const events = group.tick(at(201_440));
    expect(events.map((event) => event.type)).toEqual(['SettingsPickedUp', 'RenewalStarted']);
    expect(events[1]).toMatchObject({ at: at(201_440), data: { startsAt: '2026-05-20T21:20:00.000Z' } });
    expect(group.state.renewal?.endsAt).toBe(at(201_440 + 64_800));
  });
  it('R3, R5: settings shortened during a renewal start the next one when the window ends, never in the past', () => {
    const group = fleetOfThree();
    group.tick(S);
    group.issue(S, 'FIN-01', 'K2');
    group.do(S + 10 * 60_000, { type: 'SetKeyExpiryGracePeriod', minutes: 64_800, pickupDelayMinutes: 1440 });
    group.do(S + 10 * 60_000, { type: 'SetKeyValidityPeriod', minutes: 129_600, pickupDelayMinutes: 1440 });
    group.tick(S + 2 * 1440 * 60_000);
    // K2 (created at S) would be due at S + 45 days, long before the current window ends at E.
    const events = group.tick(E + 60_000);
    expect(events.map((event) => [event.type, event.at])).toEqual([
      ['KeyExpired', E],
      ['MachineKeyExpired', E],
      ['MachineKeyExpired', E],
      ['RenewalStarted', E],
    ]);
    expect(group.state.renewal?.endsAt).toBe(E + 64_800 * 60_000);
  });
  it('R2: lowering the grace then the validity works; the other order is refused', () => {
    const group = fleetOfThree();
    const error = refusal(() => group.do(at(1), { type: 'SetKeyValidityPeriod', minutes: 129_600, pickupDelayMinutes: 1440 }));
    expect(error.code).toBe('VALIDITY_OUT_OF_RANGE');
    expect(error.message).toContain('lower the grace period first');
    group.do(at(1), { type: 'SetKeyExpiryGracePeriod', minutes: 64_800, pickupDelayMinutes: 1440 });
    expect(group.do(at(2), { type: 'SetKeyValidityPeriod', minutes: 129_600, pickupDelayMinutes: 1440 })).toHaveLength(1);
  });
  it('R2: a grace above half the validity is refused and records nothing', () => {
    const group = fleetOfThree({ validity: 525_600, grace: 64_800 });
    const before = group.events.length;
    expect(refusal(() => group.do(at(1), { type: 'SetKeyExpiryGracePeriod', minutes: 262_801, pickupDelayMinutes: 1440 })).code).toBe('GRACE_OUT_OF_RANGE');
    expect(group.events.length).toBe(before);
  });
  it('R6: a longer validity changes nothing now; the next key takes it', () => {
    const group = fleetOfThree({ validity: 525_600, grace: 64_800 });
    group.do(at(1), { type: 'SetKeyValidityPeriod', minutes: 1_051_200, pickupDelayMinutes: 1440 });
    group.tick(at(1441));
    const start = at(525_600 - 64_800);
    expect(nextDue(group.state)).toEqual({ kind: 'renewalStart', at: start });
    group.tick(start);
    group.issue(start, 'FIN-01', 'K2');
    expect(primaryKey(group.state)).toMatchObject({ validity: 1_051_200 });
  });
  it('when v = 2g the old key retires before the new key renewal starts at the same instant', () => {
    const group = fleetOfThree({ validity: 129_600, grace: 64_800 });
    const s1 = at(64_800);
    group.tick(s1);
    group.issue(s1, 'FIN-01', 'K2');
    const events = group.tick(at(129_600));
    expect(events.map((event) => event.type).slice(0, 2)).toEqual(['KeyExpired', 'MachineKeyExpired']);
    expect(events.at(-1)?.type).toBe('RenewalStarted');
  });
});

describe('R19: deletion', () => {
  it('invalidates the keys at once and the machines leave', () => {
    const group = fleetOfThree();
    const events = group.do(at(500), { type: 'DeleteGroup' });
    expect(events.map((event) => event.type)).toEqual(['MachineLeft', 'MachineLeft', 'MachineLeft', 'KeyExpired', 'GroupDeleted']);
    expect(liveKeys(group.state)).toEqual([]);
    expect(refusal(() => group.join(at(501), 'FIN-09', 'K1')).code).toBe('GROUP_DELETED');
  });
});
