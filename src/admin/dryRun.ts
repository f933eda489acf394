/**
 * `--dry-run`: the admin commands decided by the real engine on a copy of the state (an overlay of
 * the store: reads go through, appends stay in memory), then thrown away. Nothing is written to the
 * store, its read model or anything else.
 *
 * The report says, for the instant the commands would be stamped with:
 * - `dueEvents`: due times the scheduler would record first anyway (renewal starts, retirements,
 *   settings pickups that the clock has passed: R3, R4, R10, R15, R16);
 * - `events`: the events the commands would append, in order (opaque parts omitted);
 * - `changes`: every row that would differ, before and after the commands, both rendered at that
 *   instant (so only the commands' effect shows, not the passing of time);
 * - `forecast`: the next renewal window of each group forecast before and after (who would miss it,
 *   which connections would need fixing; docs/forecast.md), and what differs.
 * A command the rules refuse fails the dry run with the refusal, as the command itself would.
 */
import { Projection, diffTables, replayInto, type RowDifference } from '../../projections/index.js';
import { isRekeyError } from '../kernel/errors.js';
import { toIso, type Clock, type Instant } from '../domain/time.js';
import { Engine } from '../engine/engine.js';
import { randomIds } from '../engine/ids.js';
import { forecast, forecastKeys, type Forecast } from '../fleet/forecast.js';
import { StandInCache } from '../fleet/standIn.js';
import { differences, type Difference } from '../fleet/whatif.js';
import type { EventStore } from '../store/port.js';
import { executeAdminCommand, type AdminCommand } from './commands.js';
import { eventView, type EventView } from './eventView.js';
import { overlayStore } from './overlayStore.js';

export interface ForecastGroupView {
  readonly name: string;
  readonly renewalStart: string;
  readonly renewalEnd: string;
  readonly verdict: string;
  readonly willMiss: string[];
  readonly connectionsToFix: string[];
}

export interface DryRunForecast {
  readonly before: ForecastGroupView[];
  readonly after: ForecastGroupView[];
  readonly differences: Difference[];
  /** Why there is no forecast (e.g. no group has a key yet), else null. */
  readonly skipped: string | null;
}

export interface DryRun {
  readonly dryRun: true;
  /** The instant the commands would be stamped with. */
  readonly at: string;
  /** The store's last position: nothing after it was written. */
  readonly position: number;
  readonly commands: readonly AdminCommand[];
  readonly dueEvents: EventView[];
  readonly events: EventView[];
  readonly changes: RowDifference[];
  readonly forecast: DryRunForecast | null;
}

export interface DryRunOptions {
  readonly clock: Clock;
  /** Forecast the next renewal windows before and after (default true). */
  readonly forecast?: boolean;
  readonly pickupDelayMinutes?: number;
}

export async function dryRun(store: EventStore, commands: readonly AdminCommand[], options: DryRunOptions): Promise<DryRun> {
  const overlay = await overlayStore(store);
  const at: Instant = options.clock.now();
  const engine = await Engine.open({ store: overlay, clock: { now: () => at }, ids: randomIds(), ...(options.pickupDelayMinutes !== undefined ? { pickupDelayMinutes: options.pickupDelayMinutes } : {}) });
  await engine.processDue();
  const afterDue = await overlay.headPosition();
  for (const command of commands) await executeAdminCommand(engine, command, { dryRun: true });
  const appended = overlay.appended().map(eventView);

  // Both sides rendered at the commands' instant: one replay, read before and after the commands.
  const projection = new Projection();
  await replayInto(overlay, projection, { position: afterDue });
  const before = projection.tables(at);
  await replayInto(overlay, projection);
  const changes = diffTables(before, projection.tables(at));

  return {
    dryRun: true,
    at: toIso(at),
    position: overlay.basePosition,
    commands: [...commands],
    dueEvents: appended.filter((event) => event.position <= afterDue),
    events: appended.filter((event) => event.position > afterDue),
    changes,
    forecast: options.forecast === false ? null : await forecastDifference(overlay.prefix(afterDue), overlay, options.pickupDelayMinutes),
  };
}

async function forecastDifference(before: EventStore, after: EventStore, pickupDelayMinutes: number | undefined): Promise<DryRunForecast> {
  const keys = forecastKeys();
  const standIns = new StandInCache(keys);
  const options = { keys, standIns, ...(pickupDelayMinutes !== undefined ? { pickupDelayMinutes } : {}) };
  const attempt = async (source: EventStore, until?: number): Promise<Forecast | string> => {
    try {
      return await forecast(source, { ...options, ...(until !== undefined ? { until } : {}) });
    } catch (error) {
      if (isRekeyError(error)) return `${error.code}: ${error.message}`;
      throw error;
    }
  };
  const changed = await attempt(after);
  const baseline = await attempt(before, typeof changed === 'string' ? undefined : Date.parse(changed.until));
  const empty: Forecast = { from: '', until: '', groups: [], skipped: [], habits: [], assumptions: [] };
  const a = typeof baseline === 'string' ? empty : baseline;
  const b = typeof changed === 'string' ? empty : changed;
  const skipped = typeof baseline === 'string' && typeof changed === 'string' ? changed : null;
  return { before: a.groups.map(view), after: b.groups.map(view), differences: skipped ? [] : differences(a, b), skipped };
}

function view(group: Forecast['groups'][number]): ForecastGroupView {
  return {
    name: group.name,
    renewalStart: group.renewalStart,
    renewalEnd: group.renewalEnd,
    verdict: group.verdict,
    willMiss: group.willMiss.map((m) => m.machine),
    connectionsToFix: group.connectionsToFix,
  };
}
