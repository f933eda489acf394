/**
 * The reference fleet of issue 4: 100 groups, 1,000 machines, 200 connections run weekly, machines
 * online about 70% of the time in blocks of days to months, 20 years. Built from a seed so that every
 * run simulates the same fleet.
 */
import type { Scenario, ScenarioMachine } from '../src/simulation/scenario.js';
import { parseInstant, MS_PER_MINUTE } from '../src/domain/time.js';
import { mulberry32 } from '../src/kernel/random.js';


export interface ReferenceFleetOptions {
  readonly groups?: number;
  readonly machinesPerGroup?: number;
  readonly connectionsPerGroup?: number;
  readonly years?: number;
  readonly seed?: number;
}

export function referenceFleet(options: ReferenceFleetOptions = {}): Scenario {
  const groups = options.groups ?? 100;
  const perGroup = options.machinesPerGroup ?? 10;
  const connectionsPerGroup = options.connectionsPerGroup ?? 2;
  const years = options.years ?? 20;
  const random = mulberry32(options.seed ?? 2026);
  const DAY = 1440 * MS_PER_MINUTE;
  const start = parseInstant('2026-01-01T00:00:00Z');
  const end = start + years * 365 * DAY;
  const blockDays = () => Math.max(1, Math.round(Math.exp(random() * Math.log(120)))); // 1 day to 4 months
  const machines: ScenarioMachine[] = [];
  for (let g = 0; g < groups; g++) {
    for (let m = 0; m < perGroup; m++) {
      const online = [];
      // Alternating blocks, online ones 7/3 as long as offline ones on average: ~70% online.
      let at = start;
      let isOnline = m === 0 || random() < 0.7;
      while (at < end) {
        const length = Math.round(blockDays() * (isOnline ? 1.4 : 0.6)) * DAY;
        const next = Math.min(end, at + Math.max(DAY, length));
        if (isOnline) online.push({ from: at, to: next });
        at = next;
        isOnline = !isOnline;
      }
      machines.push({ name: `G${g}-M${m}`, group: `G${g}`, agentVersion: '2.23.116.23040', joinAt: start + m * 60 * MS_PER_MINUTE, online });
    }
  }
  return {
    start,
    end,
    seed: options.seed ?? 2026,
    settings: { pickupDelayMinutes: 1440, checkInIntervalMinutes: 1440 },
    groups: Array.from({ length: groups }, (_, g) => ({ name: `G${g}`, password: `bench-password-${g}`, keyValidityPeriod: 2_628_000, keyExpiryGracePeriod: 259_200, proactiveReencryption: false })),
    machines,
    connections: Array.from({ length: groups * connectionsPerGroup }, (_, c) => ({
      name: `C${c}`,
      target: { type: 'group' as const, name: `G${c % groups}` },
      createAt: start + DAY,
      username: `CONTOSO\\svc-${c}`,
      password: `bench-secret-${c}`,
      runEveryMinutes: 10_080,
      runAt: [],
    })),
    actions: [],
  };
}
