/**
 * Holds of a test clock while a machine builds a certificate: the certificate must start at the
 * instant the service named, so a fast test clock waits for the machine (each hold is a lease, so a
 * machine that never answers cannot stop the clock for good).
 */
import { toIso } from '../../domain/time.js';
import type { ServiceClock } from '../clock.js';

export class ClockHolds {
  /** Holds of the test clock, by key (`join:<machine>`, `issue:<machine>`). */
  private readonly holds = new Map<string, () => void>();

  constructor(private readonly clock: ServiceClock, private readonly leaseMs: number) {}

  /** Holds the test clock for a machine building a certificate; returns "now" as the certificate must say it. */
  holdFor(key: string): string {
    this.release(key);
    if (this.clock.hold) this.holds.set(key, this.clock.hold(this.leaseMs));
    return toIso(Math.floor(this.clock.now() / 1000) * 1000);
  }

  release(key: string): void {
    this.holds.get(key)?.();
    this.holds.delete(key);
  }

  releaseAll(): void {
    for (const release of this.holds.values()) release();
    this.holds.clear();
  }
}
