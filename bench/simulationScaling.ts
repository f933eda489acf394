/**
 * How the simulation's cost grows with the fleet: the reference fleet's shape (10 machines and 2
 * weekly connections per group) at 10, 100 and 1,000 groups over the same span (2 years by default,
 * REKEY_BENCH_SCALING_YEARS to change), each against its own crypto floor. A ratio that stays flat
 * means cost grows with the crypto work alone; one that climbs shows per-group overhead.
 */
import { benchSimulation } from './simulation.js';

export async function benchSimulationScaling(options: { groups?: readonly number[]; years?: number } = {}) {
  const years = options.years ?? Number(process.env.REKEY_BENCH_SCALING_YEARS ?? 2);
  const rows: Record<string, number | string> = { years };
  for (const groups of options.groups ?? [10, 100, 1_000]) {
    const result = await benchSimulation({ groups, years });
    rows[`g${groups}_events`] = result.events;
    rows[`g${groups}_wallSeconds`] = result.wallSeconds;
    rows[`g${groups}_machineYearsPerSecond`] = result.machineYearsPerSecond;
    rows[`g${groups}_ratioToCryptoFloor`] = result.ratioToCryptoFloor;
    rows[`g${groups}_cpuRatioToCryptoFloor`] = result.cpuRatioToCryptoFloor;
  }
  return rows;
}
