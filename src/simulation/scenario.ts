/**
 * A scenario as the simulator runs it: docs/scenarios.md, validated, with every instant parsed to
 * milliseconds since the epoch (UTC) and every default filled in. `loadScenario` (loader.ts) is the
 * only way to make one from a file.
 */
import type { Instant } from '../domain/time.js';

export interface Interval {
  readonly from: Instant;
  /** Exclusive: intervals are half-open [from, to). */
  readonly to: Instant;
}

export interface ScenarioGroup {
  readonly name: string;
  readonly password: string;
  readonly keyValidityPeriod: number;
  readonly keyExpiryGracePeriod: number;
  readonly proactiveReencryption: boolean;
}

export interface ScenarioMachine {
  readonly name: string;
  /** The group it joins at `joinAt`, or through `addMachine`; null for a machine that stays alone. */
  readonly group: string | null;
  readonly agentVersion: string;
  readonly joinAt: Instant | null;
  /** Sorted, non-overlapping. */
  readonly online: readonly Interval[];
}

export interface ScenarioConnection {
  readonly name: string;
  readonly target: { readonly type: 'group' | 'machine'; readonly name: string };
  readonly createAt: Instant;
  readonly username: string;
  readonly password: string;
  readonly runEveryMinutes: number | null;
  readonly runAt: readonly Instant[];
}

export type ScenarioAction = { readonly at: Instant; readonly index: number } & (
  | { readonly do: 'setKeyExpiryGracePeriod'; readonly group: string; readonly minutes: number }
  | { readonly do: 'setKeyValidityPeriod'; readonly group: string; readonly minutes: number }
  | { readonly do: 'setProactiveReencryption'; readonly group: string; readonly enabled: boolean }
  | { readonly do: 'regeneratePassword'; readonly machine: string; readonly newPassword: string }
  | { readonly do: 'rejoin'; readonly machine: string; readonly password: string }
  | { readonly do: 'addMachine'; readonly machine: string; readonly password: string }
  | { readonly do: 'removeMachine'; readonly machine: string }
  | { readonly do: 'updateAgent'; readonly machine: string; readonly agentVersion: string }
  | { readonly do: 'runConnection'; readonly connection: string }
  | { readonly do: 'fixConnection'; readonly connection: string; readonly password: string }
  | { readonly do: 'deleteGroup'; readonly group: string }
);

/** Where a continued scenario starts (`from`): the store given with --db, or exports to import. */
export type ScenarioFrom =
  | { readonly kind: 'store' }
  /** Export files (paths relative to the scenario file), imported as the state observed at `start`. */
  | { readonly kind: 'export'; readonly files: readonly string[] };

/** With `from`: a name the file uses without declaring it; it must exist in the starting state. */
export interface ExternalReference {
  readonly path: string;
  readonly what: 'machine group' | 'machine';
  readonly name: string;
}

export interface Scenario {
  /** Continue from a stored or exported state instead of an empty store (absent: start empty). */
  readonly from?: ScenarioFrom;
  /** With `from`: names of groups and machines used but not declared, to be found in the starting state. */
  readonly externalReferences?: readonly ExternalReference[];
  readonly start: Instant;
  readonly end: Instant;
  readonly seed: number;
  readonly settings: { readonly pickupDelayMinutes: number; readonly checkInIntervalMinutes: number };
  readonly groups: readonly ScenarioGroup[];
  readonly machines: readonly ScenarioMachine[];
  readonly connections: readonly ScenarioConnection[];
  /** In file order (`index` is the position in the file's `actions`). */
  readonly actions: readonly ScenarioAction[];
}
