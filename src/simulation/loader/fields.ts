/**
 * The scenario file's vocabulary (docs/scenarios.md): every field the loader accepts, whether it is
 * required, and the bounds the loader enforces beyond the domain's own (R1/R2 live in periods.ts).
 * docs/scenario-schema.json describes the same fields; a test walks the schema and compares it with
 * these tables, so they are the single source the loader, the schema and the tests agree on.
 */
import type { ScenarioAction } from '../scenario.js';

export type Presence = 'required' | 'optional';

export const SCENARIO_FIELDS = {
  scenario: {
    from: 'optional',
    start: 'required',
    end: 'required',
    seed: 'optional',
    settings: 'optional',
    groups: 'required',
    machines: 'required',
    connections: 'optional',
    actions: 'optional',
  },
  settings: { pickupDelayMinutes: 'optional', checkInIntervalMinutes: 'optional' },
  group: {
    name: 'required',
    password: 'required',
    keyValidityPeriod: 'optional',
    keyExpiryGracePeriod: 'optional',
    proactiveReencryption: 'optional',
  },
  machine: { name: 'required', group: 'optional', agentVersion: 'required', joinAt: 'optional', online: 'optional' },
  interval: { from: 'required', to: 'required' },
  /** Exactly one of `group` and `machine` (checked apart from the table). */
  connection: {
    name: 'required',
    group: 'optional',
    machine: 'optional',
    createAt: 'required',
    username: 'required',
    password: 'required',
    runEveryMinutes: 'optional',
    runAt: 'optional',
  },
} as const satisfies Record<string, Record<string, Presence>>;

export type ObjectKind = keyof typeof SCENARIO_FIELDS;

export type ActionType = ScenarioAction['do'];

/** The fields of each action besides `at` and `do`, all required. */
export const ACTION_FIELDS = {
  setKeyExpiryGracePeriod: ['group', 'minutes'],
  setKeyValidityPeriod: ['group', 'minutes'],
  setProactiveReencryption: ['group', 'enabled'],
  regeneratePassword: ['machine', 'newPassword'],
  rejoin: ['machine', 'password'],
  addMachine: ['machine', 'password'],
  removeMachine: ['machine'],
  updateAgent: ['machine', 'agentVersion'],
  runConnection: ['connection'],
  fixConnection: ['connection', 'password'],
  deleteGroup: ['group'],
} as const satisfies Record<ActionType, readonly string[]>;

export type ActionField = (typeof ACTION_FIELDS)[ActionType][number];

export const ACTION_TYPES = Object.keys(ACTION_FIELDS) as ActionType[];

/**
 * Actions on a machine that act through its group (its `group`): a machine declared without one can
 * never be a member, so naming it there is a file error rather than a refusal.
 */
export const ACTIONS_THROUGH_GROUP: ReadonlySet<ActionType> = new Set([
  'regeneratePassword',
  'rejoin',
  'addMachine',
  'removeMachine',
]);

/** `seed`: an unsigned 32-bit integer; 1 when absent (`rekey simulate --seed N` overrides it). */
export const SEED_MIN = 0;
export const SEED_MAX = 4_294_967_295;
export const DEFAULT_SEED = 1;

/** `settings.pickupDelayMinutes` and `settings.checkInIntervalMinutes`: 1 minute to one 365-day year. */
export const SETTING_MIN_MINUTES = 1;
export const SETTING_MAX_MINUTES = 525_600;

/** `connections[].runEveryMinutes`: 1 minute to ten 365-day years. */
export const RUN_EVERY_MIN_MINUTES = 1;
export const RUN_EVERY_MAX_MINUTES = 5_256_000;

/** Passwords (group, typed, new, connection) and connection usernames: 1 to 10,000 characters. */
export const MAX_TEXT_LENGTH = 10_000;

/** Names follow the domain's rule (src/domain/names.ts): 1 to 100 characters. */
export { MAX_NAME_LENGTH, NAME_PATTERN } from '../../domain/names.js';
import { NAME_PATTERN } from '../../domain/names.js';
/** The same rule as the JSON Schema `pattern` (ECMA-262 with the `u` flag). */
export const NAME_PATTERN_SOURCE = NAME_PATTERN.source;

/** `from.export`: at most this many export files. */
export const MAX_FROM_FILES = 100;

/** Every array in a scenario holds at most this many items (a fleet tops out far below). */
export const MAX_ITEMS_PER_ARRAY = 100_000;

/** An ISO-8601 instant is at most ~35 characters; anything longer is refused before parsing. */
export const MAX_INSTANT_LENGTH = 64;
/** Dotted versions have at most 4 parts of at most 9 digits (agentVersion.ts): 39 characters. */
export const MAX_VERSION_LENGTH = 39;

/** R9, for the warning about joinAt joins beyond a group's capacity. */
export { MAX_MACHINES_PER_GROUP } from '../../domain/group/errors.js';
