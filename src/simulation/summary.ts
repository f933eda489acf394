/**
 * What `rekey simulate` reports: the seed, the number of events, the refused actions, the stateHash
 * and a summary per group, with the simulated-time / wall-time ratio.
 */
import type { GroupState } from '../domain/group/state.js';
import { MS_PER_MINUTE } from '../domain/time.js';
import { tablesAt } from '../../projections/index.js';
import type { Scenario } from './scenario.js';
import type { Rejection, SimulationResult } from './simulator.js';
import { stableLabels, stateHash } from './stateHash.js';

const MINUTES_PER_YEAR = 525_600;

export interface GroupSummary {
  readonly name: string;
  readonly state: 'Active' | 'Expired' | 'Deleted';
  readonly keyVersion: number;
  readonly renewals: number;
  readonly machines: { Default: number; PendingNewKey: number; KeyExpired: number };
  readonly connectionsToFix: string[];
}

export interface SimulationReport {
  readonly seed: number;
  readonly events: number;
  readonly rejected: readonly Rejection[];
  readonly stateHash: string;
  readonly summary: {
    readonly start: string;
    readonly end: string;
    readonly simulatedYears: number;
    readonly wallSeconds: number;
    readonly simulatedToWallRatio: number;
    readonly eventsPerSecond: number;
    readonly eventTypes: Record<string, number>;
    readonly groups: GroupSummary[];
  };
}

function groupSummary(group: GroupState, connectionsToFix: string[]): GroupSummary {
  const machines = { Default: 0, PendingNewKey: 0, KeyExpired: 0 };
  const label = { 1: 'Default', 2: 'PendingNewKey', 3: 'KeyExpired' } as const;
  for (const member of Object.values(group.members)) machines[label[member.status]] += 1;
  return {
    name: group.name,
    state: group.lifecycle === 'active' ? 'Active' : group.lifecycle === 'expired' ? 'Expired' : 'Deleted',
    keyVersion: group.keys.at(-1)?.version ?? 0,
    renewals: group.keys.filter((key) => key.wrappedUnderPrevious !== null).length,
    machines,
    connectionsToFix,
  };
}

export async function summarize(scenario: Scenario, result: SimulationResult): Promise<SimulationReport> {
  const { engine } = result;
  const { tables } = await tablesAt(engine.store, { asOf: scenario.end });
  const hash = stateHash(tables, await stableLabels(engine.store));
  const events = await engine.store.headPosition();
  const wallSeconds = result.wallMilliseconds / 1000;
  const simulatedMinutes = (scenario.end - scenario.start) / MS_PER_MINUTE;
  const groups = [...engine.fleet.groups.values()]
    .map((slot) => slot.state)
    .filter((group) => group.lifecycle !== 'none')
    .sort((a, b) => a.name.localeCompare(b.name) || a.createdAt - b.createdAt)
    .map((group) => groupSummary(group, engine.fleet.connectionsTargeting(group.name).filter((c) => c.needsFix).map((c) => c.name)));
  return {
    seed: result.seed,
    events,
    rejected: result.rejected,
    stateHash: hash,
    summary: {
      start: new Date(scenario.start).toISOString(),
      end: new Date(scenario.end).toISOString(),
      simulatedYears: simulatedMinutes / MINUTES_PER_YEAR,
      wallSeconds,
      simulatedToWallRatio: (simulatedMinutes * 60) / Math.max(wallSeconds, 1e-6),
      eventsPerSecond: events / Math.max(wallSeconds, 1e-6),
      eventTypes: Object.fromEntries([...engine.fleet.eventCounts].sort(([a], [b]) => a.localeCompare(b))),
      groups,
    },
  };
}
