/**
 * A small world for projection tests: a real SQLite event store in a temp directory, the real engine
 * on a manual clock, real machine agents with real keys (drawn from a recycled pool, so tests do not
 * wait for RSA generation) and the portal for connections.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pooledKeyPairSource, type PooledKeyPairSource } from '../../../src/crypto/keys.js';
import { manualClock, parseInstant, plusMinutes, toIso, type Instant } from '../../../src/domain/time.js';
import { MachineAgent } from '../../../src/engine/agent.js';
import { Engine } from '../../../src/engine/engine.js';
import { seededIds } from '../../../src/engine/ids.js';
import { openSqliteEventStore, type SqliteEventStore } from '../../../src/store/sqlite.js';

export const DAY = 1440;
export const T0 = parseInstant('2026-01-01T00:00:00Z');
export const day = (n: number, minutes = 0): Instant => plusMinutes(T0, n * DAY + minutes);
export const iso = (at: Instant): string => toIso(at);
export const AGENT = '2.23.116.23040';

let sharedKeys: PooledKeyPairSource | undefined;
/** Real RSA-2048 keys, generated once per test file and handed out in turn. */
export function testKeys(): PooledKeyPairSource {
  sharedKeys ??= pooledKeyPairSource({ size: 4, recycle: true });
  return sharedKeys;
}

export interface World {
  readonly dir: string;
  readonly file: string;
  readonly store: SqliteEventStore;
  readonly clock: ReturnType<typeof manualClock>;
  readonly engine: Engine;
  readonly agents: Map<string, MachineAgent>;
  agent(name: string, agentVersion?: string): MachineAgent;
  /** Moves the clock (never back) and lets the scheduler record what fell due. */
  at(instant: Instant): Promise<void>;
  head(): Promise<number>;
  close(): Promise<void>;
}

export async function openWorld(options: { seed?: number; start?: Instant } = {}): Promise<World> {
  const dir = mkdtempSync(join(tmpdir(), 'rekey-projections-'));
  const file = join(dir, 'rekey.db');
  const store = openSqliteEventStore({ file, pollIntervalMs: 20 });
  const clock = manualClock(options.start ?? T0);
  const engine = await Engine.open({ store, clock, ids: seededIds(options.seed ?? 1) });
  const agents = new Map<string, MachineAgent>();
  const world: World = {
    dir,
    file,
    store,
    clock,
    engine,
    agents,
    agent(name, agentVersion = AGENT) {
      let agent = agents.get(name);
      if (!agent) {
        agent = new MachineAgent({ engine, machineId: `m-${name}`, name, agentVersion, keys: testKeys() });
        agents.set(name, agent);
      }
      return agent;
    },
    async at(instant) {
      if (instant < clock.now()) throw new Error(`the clock cannot go back from ${toIso(clock.now())} to ${toIso(instant)}`);
      clock.set(instant);
      await engine.processDue();
    },
    head: () => store.headPosition(),
    async close() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return world;
}
