/**
 * The parts the machine API's flood and replay protection is made of (issue 18), with an injected
 * clock: token buckets and the source-address key they are counted by, the admission of unknown
 * clients and registered machines, and the nonce ledger in memory and in a SQLite file that two
 * connections share (as two `rekey serve` processes do; test/remote/replay.test.ts runs those).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { memoryNonceLedger, sqliteNonceLedger, type NonceLedger } from '../../src/remote/nonceLedger.js';
import { Admission, RateLimitedError, RateLimiter, addressKey } from '../../src/remote/rateLimit.js';

const dir = mkdtempSync(join(tmpdir(), 'rekey-admission-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('token buckets', () => {
  it('allow a burst, then one request per 1/perSecond, and tell how long to wait', () => {
    let now = 1_000_000;
    const limiter = new RateLimiter({ perSecond: 4, burst: 3 }, () => now);
    expect([limiter.take('a'), limiter.take('a'), limiter.take('a')]).toEqual([0, 0, 0]);
    expect(limiter.take('a')).toBe(250);
    expect(limiter.take('b')).toBe(0); // keys are independent
    now += 249;
    expect(limiter.take('a')).toBe(1);
    now += 1;
    expect(limiter.take('a')).toBe(0);
    now += 60_000; // refills to the burst, never beyond
    expect([limiter.take('a'), limiter.take('a'), limiter.take('a'), limiter.take('a')]).toEqual([0, 0, 0, 250]);
  });

  it('charge counts a failure without refusing it, down to one burst of debt', () => {
    let now = 0;
    const limiter = new RateLimiter({ perSecond: 1, burst: 2 }, () => now);
    for (let i = 0; i < 10; i++) limiter.charge('x');
    expect(limiter.take('x')).toBe(3000); // from -2 tokens back to 1
    now += 3000;
    expect(limiter.take('x')).toBe(0);
  });

  it('refuses a nonsensical limit', () => {
    expect(() => new RateLimiter({ perSecond: 0, burst: 1 }, () => 0)).toThrow('perSecond > 0 and burst >= 1, got 0 per second, burst 1');
  });

  it('count IPv4 by address and IPv6 by its /64', () => {
    expect(addressKey('127.0.0.5')).toBe('127.0.0.5');
    expect(addressKey('::ffff:10.1.2.3')).toBe('10.1.2.3');
    expect(addressKey('2001:db8:0:1::1')).toBe('2001:db8:0:1::/64');
    expect(addressKey('2001:0db8:0000:0001:ffff:0:0:2')).toBe('2001:db8:0:1::/64');
    expect(addressKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey(undefined)).toBe('unknown');
  });
});

describe('admission', () => {
  it('limits unknown clients per address and together, registered machines each on their own', () => {
    let now = 0;
    const admission = new Admission({
      unknownPerAddress: { perSecond: 1, burst: 2 },
      unknownOverall: { perSecond: 2, burst: 3 },
      perMachine: { perSecond: 1, burst: 1 },
    }, () => now);
    const from = (ip: string) => ({ ip });
    admission.admitUnknown(from('10.0.0.1'));
    admission.admitUnknown(from('10.0.0.1'));
    const perAddress = (() => { try { admission.admitUnknown(from('10.0.0.1')); } catch (error) { return error; } })();
    expect(perAddress).toBeInstanceOf(RateLimitedError);
    expect(perAddress).toMatchObject({ status: 429, code: 'RATE_LIMITED', retryAfterSeconds: 1 });
    expect((perAddress as Error).message).toBe('too many requests without a registered request-signing key from 10.0.0.1: at most 2 at once and 1 per second per address; retry after 1 s');
    admission.admitUnknown(from('10.0.0.2'));
    const overall = (() => { try { admission.admitUnknown(from('10.0.0.3')); } catch (error) { return error; } })();
    expect((overall as Error).message).toContain('from all such clients together (registered machines are not limited by this)');
    // The unknown clients' budgets are spent; a registered machine is still admitted, once per its own budget.
    admission.admitMachine('KEY-A', 'FIN-01');
    admission.admitMachine('KEY-B', 'FIN-02');
    expect(() => admission.admitMachine('KEY-A', 'FIN-01')).toThrow('machine FIN-01 sent more than 1 requests at once or 1 per second; retry after 1 s');
    now += 1000;
    admission.admitMachine('KEY-A', 'FIN-01');
  });
});

describe('nonce ledgers', () => {
  const behaves = (make: (now: () => number) => NonceLedger) => {
    let now = 1_000_000;
    const ledger = make(() => now);
    try {
      expect(ledger.spend('KEY-A', 'nonce-1', now + 60_000)).toBe(true);
      expect(ledger.spend('KEY-A', 'nonce-1', now + 60_000)).toBe(false); // a replay
      expect(ledger.spend('KEY-B', 'nonce-1', now + 60_000)).toBe(true); // bound to the key that signed it
      // Once its request could no longer be fresh, a nonce is forgotten (at the next purge).
      now += 75_000;
      expect(ledger.spend('KEY-A', 'nonce-2', now + 60_000)).toBe(true);
      expect(ledger.spend('KEY-A', 'nonce-1', now + 60_000)).toBe(true);
    } finally {
      ledger.close();
    }
  };

  it('in memory', () => behaves(memoryNonceLedger));
  it('in a SQLite file', () => behaves((now) => sqliteNonceLedger(join(dir, 'alone.nonces.db'), now)));

  it('a SQLite file is shared: what one connection spent, another refuses', () => {
    const file = join(dir, 'shared.nonces.db');
    const first = sqliteNonceLedger(file, () => 0);
    const second = sqliteNonceLedger(file, () => 0);
    try {
      expect(first.spend('KEY-A', 'n-1', 1000)).toBe(true);
      expect(second.spend('KEY-A', 'n-1', 1000)).toBe(false);
      expect(second.spend('KEY-A', 'n-2', 1000)).toBe(true);
      expect(first.spend('KEY-A', 'n-2', 1000)).toBe(false);
      expect(first.location).toBe(file);
    } finally {
      first.close();
      second.close();
    }
  });
});
