/**
 * The seeded command stream of the crash-safety harness (crash.test.ts, crashWorker.ts). Command k
 * is a pure function of (seed, k) and happens at the instant `instantOf(k)`, so that a restarted
 * engine process can carry on with command k+1 after the last acknowledged one, however it died.
 * Which events a command writes depends on the log (who holds which key, who checked in); the
 * stream itself does not. The worker process loads a transpiled copy of this file, whose imports of
 * src/ resolve to the built dist/ (see `compiledWorkers` in processes.ts).
 */
import { mulberry32 } from '../../../src/kernel/random.js';

export const T0 = Date.UTC(2026, 0, 1);
/** One command per simulated day: short keys (R1/R2 minima) then renew every 45 to 90 days. */
export const STEP_MS = 24 * 60 * 60 * 1000;
export const VALIDITY = 129_600;
export const GRACE = 64_800;

export const GROUPS = ['A', 'B'] as const;
export const MACHINES = [
  { name: 'A-01', group: 'A', agentVersion: '2.23.116.23040' },
  { name: 'A-02', group: 'A', agentVersion: '2.23.116.23040' },
  { name: 'A-03', group: 'A', agentVersion: '2.24.0.0' },
  { name: 'B-01', group: 'B', agentVersion: '2.23.116.23040' },
  { name: 'B-02', group: 'B', agentVersion: '2.23.116.23040' },
  // R8: misses every renewal until an updateAgent command (then it needs a rejoin).
  { name: 'B-03', group: 'B', agentVersion: '2.22.0.0' },
] as const;
export const CONNECTIONS = [
  { name: 'Conn-A1', group: 'A' },
  { name: 'Conn-A2', group: 'A' },
  { name: 'Conn-B1', group: 'B' },
] as const;

export const credentialOf = (connection: string) => ({ username: `CONTOSO\\svc-${connection}`, password: `secret-${connection}` });
export const initialPassword = (group: string) => `initial-${group}`;
/** The password that command k sets when it regenerates the group password. */
export const regeneratedPassword = (group: string, k: number) => `pw-${group}-${k}`;
export const groupOf = (machine: string) => MACHINES.find((m) => m.name === machine)!.group;

export type Planned =
  | { kind: 'createGroup'; group: string }
  | { kind: 'join'; machine: string }
  | { kind: 'createConnection'; connection: string }
  | { kind: 'checkIn'; machine: string }
  /** Every connected member of the group checks in (a day of the fleet's cadence, R21). */
  | { kind: 'checkInGroup'; group: string }
  | { kind: 'run'; connection: string }
  | { kind: 'setValidity'; group: string; minutes: number }
  | { kind: 'setGrace'; group: string; minutes: number }
  | { kind: 'connect'; machine: string }
  | { kind: 'disconnect'; machine: string }
  | { kind: 'regenerate'; machine: string }
  | { kind: 'rejoin'; machine: string }
  | { kind: 'fix'; connection: string }
  | { kind: 'proactive'; group: string; enabled: boolean }
  | { kind: 'updateAgent'; machine: string; agentVersion: string }
  | { kind: 'tick' };

const SETUP: Planned[] = [
  ...GROUPS.map((group): Planned => ({ kind: 'createGroup', group })),
  ...MACHINES.map((m): Planned => ({ kind: 'join', machine: m.name })),
  ...CONNECTIONS.map((c): Planned => ({ kind: 'createConnection', connection: c.name })),
];
export const SETUP_COMMANDS = SETUP.length;


// Tuned so that the groups live through many renewals: most renewals are taken by the machines
// that stay online, some machines miss one and rejoin, and the first machine of each group is never
// disconnected (otherwise a group whose members all went offline would expire for good, R16).
const WEIGHTS: [Planned['kind'], number][] = [
  ['checkIn', 20], ['checkInGroup', 20], ['run', 16], ['setValidity', 3], ['setGrace', 3], ['connect', 5], ['disconnect', 2],
  ['regenerate', 4], ['rejoin', 6], ['fix', 5], ['proactive', 2], ['updateAgent', 1], ['tick', 5],
];
const TOTAL_WEIGHT = WEIGHTS.reduce((sum, [, w]) => sum + w, 0);

export function planCommand(seed: number, k: number): Planned {
  if (k < SETUP.length) return SETUP[k]!;
  const random = mulberry32((seed ^ Math.imul(k, 0x9e3779b1)) >>> 0);
  random();
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  let roll = random() * TOTAL_WEIGHT;
  let kind: Planned['kind'] = 'tick';
  for (const [candidate, weight] of WEIGHTS) {
    if (roll < weight) {
      kind = candidate;
      break;
    }
    roll -= weight;
  }
  const machine = pick(MACHINES).name;
  const connection = pick(CONNECTIONS).name;
  const group = pick(GROUPS);
  switch (kind) {
    case 'checkIn': case 'connect': case 'regenerate': case 'rejoin':
      return { kind, machine };
    case 'disconnect':
      return { kind, machine: pick(MACHINES.filter((m) => !m.name.endsWith('-01'))).name };
    case 'checkInGroup':
      return { kind, group };
    case 'run': case 'fix':
      return { kind, connection };
    case 'setValidity':
      return { kind, group, minutes: pick([129_600, 172_800, 259_200]) };
    case 'setGrace':
      return { kind, group, minutes: pick([64_800, 86_400]) };
    case 'proactive':
      return { kind, group, enabled: random() < 0.5 };
    case 'updateAgent':
      return { kind, machine: 'B-03', agentVersion: '2.24.0.0' };
    default:
      return { kind: 'tick' };
  }
}

export const instantOf = (k: number) => T0 + k * STEP_MS;

/** How the engine process is told where to go on. */
export interface CrashConfig {
  readonly db: string;
  /** The machines' key journal (see crashWorker.ts). */
  readonly journal: string;
  readonly seed: number;
  /** First command to execute: the one after the last acknowledged command. */
  readonly from: number;
  /** Stop (cleanly) before this command. */
  readonly until: number;
  /** Added to every command's instant: how long the engine was down before this start. */
  readonly offsetMs: number;
  /** Before any command, let the scheduler alone catch up at this instant. */
  readonly tickAt: number | null;
  /** Follow the log with the projection runner (the read model beside the db). */
  readonly readModel: boolean;
}

/** One line on the worker's stdout per completed command. */
export interface Ack {
  readonly ack: number | 'tick';
  readonly kind: string;
  readonly at: string;
  readonly refused: string | null;
  readonly skipped: boolean;
  /** [position, commandId, hash] of every event the command appended. */
  readonly events: [number, string, string][];
}

/** Commands of command k carry ids `c<k>:<method>:...` (given) or `c<k>-auto-<uuid>` (scheduler, reconciliation). */
export const COMMAND_ID = /^(c(\d+)|tick)[:-]/;
