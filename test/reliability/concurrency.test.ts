/**
 * Concurrency (issue 6): four engine processes share one SQLite file and send commands to the same
 * two groups and their connections at the same moment. Every command is sent twice, by two
 * different processes, with the same command id (a client retrying through another server).
 * - No command is lost and none is recorded twice: each id appears in exactly one append.
 * - A retried id is a no-op: of its two sends, exactly one records the event, the other nothing.
 * - The final state equals a serial replay: the same commands executed one by one, in the order the
 *   log shows, on a fresh engine over a copy of the setup give the same log event for event, and a
 *   fresh engine on the shared file has the same state as the serial one.
 * - Sending every command once more changes nothing.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { inlineKeyPairSource } from '../../src/crypto/index.js';
import { manualClock, plusMinutes } from '../../src/domain/time.js';
import { MachineAgent } from '../../src/engine/agent.js';
import { Engine } from '../../src/engine/engine.js';
import { seededIds } from '../../src/engine/ids.js';
import { createConnection } from '../../src/engine/portal.js';
import { createInMemoryEventStore } from '../../src/store/memory.js';
import { openSqliteEventStore } from '../../src/store/sqlite.js';
import { T0 } from './support/crashPlan.js';
import { commandIdOf, execute, type CommandOutcome, type ConcurrencyConfig, type SharedCommand } from './support/concurrencyWorker.js';
import { shapeProblems } from './support/logChecks.js';
import { startWorker } from './support/processes.js';
import { removeScratchDirs, scratchDir } from './support/scratch.js';
import { mulberry32 } from '../../src/kernel/random.js';
import { readWholeLog } from '../../src/store/logPages.js';

const WORKERS = 4;
const COMMANDS = 200;

afterAll(removeScratchDirs);

describe('concurrency: four engine processes on one SQLite file, every command sent twice', () => {
  it('loses no command, makes every retried id a no-op, and ends in the state of a serial replay', async () => {
    const began = performance.now();
    const dir = scratchDir('concurrency');
    const db = join(dir, 'rekey.db');

    // ---- setup: two groups, one machine and one connection each (real keys, real encryption) ----
    const store = openSqliteEventStore({ file: db });
    const clock = manualClock(T0);
    const engine = await Engine.open({ store, clock, ids: seededIds(3) });
    const thumbprints = new Map<string, string>();
    for (const group of ['G1', 'G2']) {
      await engine.createGroup({ name: group });
      await new MachineAgent({ engine, machineId: `m-${group}`, name: `${group}-01`, agentVersion: '2.23.116.23040', keys: inlineKeyPairSource() }).join(group, `pw-${group}`);
      await createConnection(engine, `Conn-${group}`, { type: 'group', name: group }, { username: `svc-${group}`, password: `secret-${group}` });
      thumbprints.set(group, engine.liveCertificates({ type: 'group', name: group })[0]!.thumbprint);
    }
    const setupHead = await store.headPosition();
    await store.close();

    // ---- the commands, each for two workers ----
    const random = mulberry32(606);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const commands: SharedCommand[] = Array.from({ length: COMMANDS }, (_, i): SharedCommand => {
      const group = pick(['G1', 'G2']);
      switch (pick(['validity', 'grace', 'runFailure', 'run'] as const)) {
        case 'validity': return { i, kind: 'validity', group, minutes: pick([1_051_200, 1_576_800, 2_628_000]) };
        case 'grace': return { i, kind: 'grace', group, minutes: pick([64_800, 129_600, 259_200]) };
        case 'runFailure': return { i, kind: 'runFailure', connection: `Conn-${group}` };
        case 'run': return { i, kind: 'run', connection: `Conn-${group}`, machine: `${group}-01`, thumbprint: thumbprints.get(group)! };
      }
    });
    const senders = (i: number): [number, number] => {
      const first = i % WORKERS;
      return [first, (first + 1 + (Math.floor(i / WORKERS) % (WORKERS - 1))) % WORKERS];
    };
    const at = plusMinutes(T0, 1440);
    const startAt = Date.now() + 4000; // every worker is up by then, even on a busy machine
    const outcomes: CommandOutcome[] = [];
    const workers = Array.from({ length: WORKERS }, (_, worker) => {
      const config: ConcurrencyConfig = { db, worker, at, startAt, commands: commands.filter((c) => senders(c.i).includes(worker)) };
      return startWorker('concurrencyWorker', config, (line) => outcomes.push(line as CommandOutcome));
    });
    for (const worker of workers) {
      const exit = await worker.exited;
      expect(exit, exit.stderr).toMatchObject({ code: 0, signal: null });
    }

    // ---- each id: sent twice, recorded once ----
    expect(outcomes).toHaveLength(2 * COMMANDS);
    expect(outcomes.filter((o) => o.refused !== null)).toEqual([]);
    for (let i = 0; i < COMMANDS; i++) {
      const sends = outcomes.filter((o) => o.i === i);
      expect(sends.map((o) => o.worker).sort()).toEqual([...senders(i)].sort());
      expect(sends.map((o) => o.positions.length).sort(), `command ${i}`).toEqual([0, 1]);
    }
    const file = openSqliteEventStore({ file: db });
    const events = await readWholeLog(file);
    expect(shapeProblems(events)).toEqual([]);
    expect(await file.verify()).toMatchObject({ ok: true, checked: setupHead + COMMANDS });
    const shared = events.slice(setupHead);
    expect(shared.map((e) => e.metadata.commandId).sort()).toEqual(commands.map((c) => commandIdOf(c.i)).sort());
    // The acknowledged position of each command is where its event is.
    for (const outcome of outcomes) for (const position of outcome.positions) expect(events[position - 1]!.metadata.commandId).toBe(commandIdOf(outcome.i));
    // The writers really interleaved: count how often the recording process changes along the log.
    const recorder = new Map(outcomes.filter((o) => o.positions.length > 0).map((o) => [o.positions[0]!, o.worker]));
    let switches = 0;
    for (let p = setupHead + 2; p <= setupHead + COMMANDS; p++) if (recorder.get(p) !== recorder.get(p - 1)) switches++;
    expect(switches).toBeGreaterThanOrEqual(8);

    // ---- a serial replay in the order of the log gives the same log and the same state ----
    const memory = createInMemoryEventStore();
    for (const event of events.slice(0, setupHead)) {
      await memory.append(event.stream, [{ type: event.type, data: event.data, metadata: event.metadata }], event.revision - 1);
    }
    const serial = await Engine.open({ store: memory, clock: { now: () => at }, ids: seededIds(99) });
    const byId = new Map(commands.map((c) => [commandIdOf(c.i), c]));
    for (const event of shared) await execute(serial, byId.get(event.metadata.commandId)!);
    const strip = (e: (typeof events)[number]) => ({ stream: e.stream, revision: e.revision, position: e.position, type: e.type, data: e.data, metadata: e.metadata });
    expect((await readWholeLog(memory)).map(strip)).toEqual(events.map(strip));
    const fresh = await Engine.open({ store: file, clock: { now: () => at }, ids: seededIds(100) });
    for (const group of ['G1', 'G2']) expect(fresh.group(group)).toEqual(serial.group(group));
    for (const group of ['G1', 'G2']) expect(fresh.connection(`Conn-${group}`)).toEqual(serial.connection(`Conn-${group}`));

    // ---- sending everything once more records nothing ----
    for (const command of commands) expect(await execute(fresh, command)).toEqual([]);
    expect(await file.headPosition()).toBe(setupHead + COMMANDS);
    await file.close();
    await memory.close();
    console.log(`concurrency: ${JSON.stringify({ workers: WORKERS, commands: COMMANDS, sends: 2 * COMMANDS, events: events.length, writerSwitches: switches, seconds: Math.round((performance.now() - began) / 100) / 10 })}`);
  }, 120_000);
});
