/**
 * Where an admin command goes: the store itself (the embedded SQLite file or EventStoreDB, opened by
 * this process), or a running `rekey serve` (`--server URL`, with `Authorization: Bearer <token>`
 * when a token is given). Both answer the same questions with the same JSON: run commands (or dry-run
 * them), the tables as of an instant, an explanation, a plan.
 */
import type { TablesAt } from '../../projections/index.js';
import type { Credential } from '../engine/portal.js';
import type { Explanation } from '../explain/explain.js';
import type { Plan } from '../plan/plan.js';
import type { AdminCommand } from './commands.js';
import type { DryRun } from './dryRun.js';
import type { EventView } from './eventView.js';

export interface AdminResult {
  readonly dryRun: false;
  readonly commands: readonly AdminCommand[];
  /** The events the commands recorded (due times recorded on the way included), in log order. */
  readonly events: EventView[];
  /** The log's last position afterwards. */
  readonly position: number;
  /** Runs handed to the service's run queue (`connection run --server`): a machine of the target takes each. */
  readonly queuedRuns?: { readonly connection: string; readonly runId: string }[];
}

export interface RunOptions {
  readonly dryRun: boolean;
  /** Forecast before and after in a dry run (default true). */
  readonly forecast?: boolean;
  readonly credential?: Credential;
}

export interface AdminTarget {
  /** For messages: the store file, the EventStoreDB address (without credentials) or the server URL. */
  readonly description: string;
  run(commands: readonly AdminCommand[], options: RunOptions): Promise<AdminResult | DryRun>;
  tables(asOf?: number): Promise<TablesAt>;
  explain(table: string, name: string, asOf?: number): Promise<Explanation>;
  plan(asOf?: number): Promise<Plan>;
  close(): Promise<void>;
}
