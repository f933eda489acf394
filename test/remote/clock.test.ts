/**
 * The service's test clock: faster than real time from a chosen start, whole seconds, never
 * backwards, held while a certificate is built, and only ever enabled by a flag.
 */
import { describe, expect, it } from 'vitest';
import { isRekeyError } from '../../src/kernel/errors.js';
import { parseInstant } from '../../src/domain/time.js';
import { fastClock, serviceClockFromOptions } from '../../src/remote/clock.js';

const T0 = parseInstant('2026-01-01T00:00:00Z');

function realTime() {
  let ms = 0;
  return { now: () => ms, advance: (by: number) => void (ms += by) };
}

const codeOf = (work: () => unknown) => {
  try {
    work();
  } catch (error) {
    return isRekeyError(error) ? error.code : String(error);
  }
  return 'no error';
};

describe('fastClock', () => {
  it('runs `speed` times faster than real time from its start, in whole seconds', () => {
    const real = realTime();
    const clock = fastClock({ start: T0, speed: 86_400, realNow: real.now });
    expect(clock.now()).toBe(T0);
    real.advance(1000); // one real second: one service day
    expect(clock.now()).toBe(T0 + 86_400_000);
    real.advance(4); // 345.6 service seconds: shown as 345
    expect(clock.now() - T0 - 86_400_000).toBe(345_000);
    expect(clock.speed).toBe(86_400);
    expect(clock.test).toBe(true);
  });

  it('stands still while held and goes on from there when released, never jumping', () => {
    const real = realTime();
    const clock = fastClock({ start: T0, speed: 1000, realNow: real.now });
    real.advance(10);
    const release = clock.hold(60_000);
    const held = clock.now();
    expect(held).toBe(T0 + 10_000);
    real.advance(50);
    expect(clock.now()).toBe(held);
    expect(clock.held).toBe(true);
    const inner = clock.hold(60_000);
    release();
    expect(clock.now()).toBe(held); // still held by the second hold
    inner();
    expect(clock.held).toBe(false);
    expect(clock.now()).toBe(held);
    real.advance(1);
    expect(clock.now()).toBe(held + 1000);
  });

  it('lets a hold go when its lease runs out (an agent that died cannot stop the clock)', async () => {
    const clock = fastClock({ start: T0, speed: 1000 });
    clock.hold(30);
    expect(clock.held).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(clock.held).toBe(false);
  });

  it('is refused in production mode unless --test-clock asked for it', () => {
    expect(codeOf(() => fastClock({ speed: 10, env: { NODE_ENV: 'production' } }))).toBe('TEST_CLOCK_REFUSED');
    expect(fastClock({ speed: 10, env: { NODE_ENV: 'production' }, testClock: true }).speed).toBe(10);
    expect(codeOf(() => fastClock({ speed: 0 }))).toBe('TEST_CLOCK_REFUSED');
    expect(codeOf(() => fastClock({ speed: Number.POSITIVE_INFINITY }))).toBe('TEST_CLOCK_REFUSED');
  });

  it('serviceClockFromOptions: the system clock by default; --clock-speed and --clock-start only with --test-clock', () => {
    const system = serviceClockFromOptions({});
    expect(system.test).toBe(false);
    expect(system.speed).toBe(1);
    expect(system.hold).toBeUndefined();
    expect(Math.abs(system.now() - Date.now())).toBeLessThan(1000);
    expect(codeOf(() => serviceClockFromOptions({ clockSpeed: 100 }))).toBe('TEST_CLOCK_REFUSED');
    expect(codeOf(() => serviceClockFromOptions({ clockStart: T0 }))).toBe('TEST_CLOCK_REFUSED');
    const test = serviceClockFromOptions({ testClock: true, clockSpeed: 100, clockStart: T0, env: { NODE_ENV: 'production' } });
    expect(test.test).toBe(true);
    expect(test.speed).toBe(100);
    expect(test.now()).toBeGreaterThanOrEqual(T0);
  });
});
