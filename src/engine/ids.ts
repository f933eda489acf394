/**
 * Where generated ids come from. Live engines use random UUIDs; simulations use a seeded source so
 * that a run is reproducible from its seed.
 */
import { randomUUID } from 'node:crypto';
import { mulberry32Words } from '../kernel/random.js';

export interface IdSource {
  next(): string;
}

export function randomIds(): IdSource {
  return { next: () => randomUUID() };
}

/** Deterministic UUID-shaped ids from a 32-bit seed (mulberry32), for simulations and tests. */
export function seededIds(seed: number): IdSource {
  const next = mulberry32Words(seed);
  const word = () => next().toString(16).padStart(8, '0');
  return {
    next() {
      const hex = word() + word() + word() + word();
      return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
    },
  };
}
