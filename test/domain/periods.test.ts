import { describe, expect, it } from 'vitest';
import { compareAgentVersions, parseAgentVersion, takesPartInRenewals } from '../../src/domain/agentVersion.js';
import { checkGrace, checkValidity, renewalEnd, renewalStart } from '../../src/domain/periods.js';
import { parseInstant, toIso } from '../../src/domain/time.js';
import { T0, at, refusal } from './fixtures.js';

describe('R1: key validity period bounds', () => {
  it('accepts 129,600 to 2,628,000 minutes', () => {
    expect(checkValidity(129_600)).toBe(129_600);
    expect(checkValidity(2_628_000)).toBe(2_628_000);
  });
  it('refuses one minute below the minimum, naming value and bound', () => {
    const error = refusal(() => checkValidity(129_599));
    expect(error.code).toBe('VALIDITY_OUT_OF_RANGE');
    expect(error.message).toBe('keyValidityPeriod 129599 is below the minimum of 129600 minutes (three months)');
  });
  it('refuses one minute above the maximum', () => {
    expect(refusal(() => checkValidity(2_628_001)).message).toContain('above the maximum of 2628000 minutes');
  });
  it('refuses non-integers and NaN', () => {
    expect(refusal(() => checkValidity(129_600.5)).code).toBe('MINUTES_NOT_INTEGER');
    expect(refusal(() => checkValidity(Number.NaN)).code).toBe('MINUTES_NOT_INTEGER');
  });
});

describe('R2: grace period bounds', () => {
  it('uses the seed example message for 64,799 minutes', () => {
    expect(refusal(() => checkGrace(64_799, 2_628_000)).message).toBe(
      'keyExpiryGracePeriod 64799 is below the minimum of 64800 minutes (45 days)',
    );
  });
  it('refuses a grace above half of the validity', () => {
    const error = refusal(() => checkGrace(64_801, 129_600));
    expect(error.code).toBe('GRACE_OUT_OF_RANGE');
    expect(error.message).toContain('above the maximum of 64800 minutes (half of keyValidityPeriod 129600)');
  });
  it('accepts exactly half of the validity', () => {
    expect(checkGrace(64_800, 129_600)).toBe(64_800);
  });
});

describe('R3: renewal start and end', () => {
  const key = { createdAt: T0, validity: 2_628_000 };
  it('with unchanged settings S = creation + (validity - grace) and E = expiry', () => {
    const start = renewalStart(key, { validity: 2_628_000, grace: 259_200 }, T0);
    expect(start).toBe(at(2_628_000 - 259_200));
    expect(renewalEnd(key, start, 259_200)).toBe(at(2_628_000));
  });
  it('never starts before the settings that made it due were picked up (R5)', () => {
    const pickedUp = at(1_000_000);
    const start = renewalStart(key, { validity: 129_600, grace: 64_800 }, pickedUp);
    expect(start).toBe(pickedUp);
    expect(renewalEnd(key, start, 64_800)).toBe(at(1_000_000 + 64_800));
  });
  it('a longer validity than the key was issued with changes nothing (R6)', () => {
    const start = renewalStart({ createdAt: T0, validity: 525_600 }, { validity: 2_628_000, grace: 64_800 }, T0);
    expect(start).toBe(at(525_600 - 64_800));
  });
  it('five years are 2,628,000 minutes, not calendar years across a leap day', () => {
    expect(toIso(at(2_628_000))).toBe('2030-12-31T00:00:00.000Z');
  });
});

describe('R8: agent versions', () => {
  it('compares dotted numbers numerically', () => {
    expect(compareAgentVersions('2.9', '2.23')).toBe(-1);
    expect(compareAgentVersions('2.23.116.23040', '2.23')).toBe(1);
    expect(compareAgentVersions('2.23.0', '2.23')).toBe(0);
  });
  it('2.23 and above take part in renewals, 2.22 and 2.21 do not', () => {
    expect(takesPartInRenewals('2.23')).toBe(true);
    expect(takesPartInRenewals('2.24.0.0')).toBe(true);
    expect(takesPartInRenewals('2.22.999.1')).toBe(false);
    expect(takesPartInRenewals('2.21')).toBe(false);
  });
  it.each(['', 'v2.23', '2..3', '2.23-beta', '1.2.3.4.5'])('rejects %j with a clear error', (text) => {
    const error = refusal(() => parseAgentVersion(text));
    expect(error.code).toBe('AGENT_VERSION_INVALID');
    expect(error.message).toContain('is not a dotted version number');
  });
});

describe('instants', () => {
  it('reads an instant without offset as UTC', () => {
    expect(parseInstant('2026-01-01T00:00:00')).toBe(T0);
  });
  it('rejects a malformed instant naming it', () => {
    expect(refusal(() => parseInstant('2026-13-01')).message).toContain('"2026-13-01" is not an ISO-8601 instant');
  });
});
