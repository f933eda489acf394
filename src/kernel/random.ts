/**
 * mulberry32, the one seeded generator of rekey: simulations' ids, benchmark fleets and test plans
 * draw from it so that a run is reproducible from its seed. Small and fast, not cryptographic: keys,
 * tokens and nonces come from node:crypto, never from here.
 */

/** Unsigned 32-bit words from a 32-bit seed. */
export function mulberry32Words(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** Numbers in [0, 1) from a 32-bit seed. */
export function mulberry32(seed: number): () => number {
  const word = mulberry32Words(seed);
  return () => word() / 4294967296;
}
