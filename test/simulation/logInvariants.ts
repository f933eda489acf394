/** Invariants every log must keep, whatever the fleet did: shared by the property suites. */
import { expect } from 'vitest';
import type { RecordedEvent } from '../../src/store/port.js';

const at = (event: RecordedEvent) => Date.parse(event.metadata.occurredAt);

export function expectLogInvariants(events: readonly RecordedEvent[], secrets: readonly string[]): void {
  // R13: no run decrypts with a key before its issuance or after its retirement.
  const issuedAt = new Map(events.filter((e) => e.type === 'KeyIssued').map((e) => [e.data.thumbprint as string, at(e)]));
  const retiredAt = new Map(events.filter((e) => e.type === 'KeyExpired').map((e) => [e.data.keyThumbprint as string, at(e)]));
  for (const run of events.filter((e) => e.type === 'ConnectionRun')) {
    const key = run.data.keyThumbprint as string;
    expect(issuedAt.get(key)!).toBeLessThanOrEqual(at(run));
    expect(at(run)).toBeLessThan(retiredAt.get(key) ?? Infinity);
  }
  // Revisions and positions are contiguous; domain time never goes backwards.
  expect(events.map((e) => e.position)).toEqual(events.map((_, i) => i + 1));
  const revisions = new Map<string, number>();
  for (const e of events) {
    expect(e.revision).toBe((revisions.get(e.stream) ?? -1) + 1);
    revisions.set(e.stream, e.revision);
  }
  for (let i = 1; i < events.length; i++) expect(at(events[i]!)).toBeGreaterThanOrEqual(at(events[i - 1]!));
  // The log holds no secret.
  const log = JSON.stringify(events);
  for (const secret of secrets) expect(log.includes(secret), `secret ${secret} in the log`).toBe(false);
}
