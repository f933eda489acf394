/**
 * Where generated ids come from. Live engines use random UUIDs; simulations use a seeded source so
 * that a run is reproducible from its seed.
 */
import { randomUUID } from 'node:crypto';

export interface IdSource {
  next(): string;
}

export function randomIds(): IdSource {
  return { next: () => randomUUID() };
}

/** Deterministic UUID-shaped ids from a 32-bit seed (mulberry32), for simulations and tests. */
export function seededIds(seed: number): IdSource {
  let state = seed >>> 0;
  const word = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0).toString(16).padStart(8, '0');
  };
  return {
    next() {
      const hex = word() + word() + word() + word();
      return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
    },
  };
}
