/**
 * Crash safety (issue 6): the engine, real machine agents and the projection runner run in a child
 * process on one SQLite file under a seeded stream of commands (joins, check-ins, runs, settings
 * changes, password regenerations, rejoins, fixes, one simulated day per command, through many
 * renewals). The test kills it with SIGKILL at random points (after a random number of
 * acknowledgements plus a random delay, or at a random instant of its start-up and recovery) and
 * starts it again from the command after the last acknowledged one. After every kill it checks:
 * - every acknowledged command's events are in the log, at the positions and with the hashes it
 *   acknowledged (commandId in the metadata);
 * - positions and revisions are contiguous, and no command id was appended twice;
 * - the hash chain verifies;
 * - no due time was skipped, and every due event is recorded at its due instant;
 * - the read model holds exactly the tables of a projection replayed to its checkpoint.
 * Finally the engine stays down for months: on its last start the scheduler alone records every due
 * time that passed meanwhile (RenewalStarted, KeyExpired) at its due instant, then it carries on, and
 * its tables equal a clean rebuild.
 *
 * REKEY_KILL_POINTS (default 55) and REKEY_CRASH_SEED change the run.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isDeepStrictEqual } from 'node:util';
import { TABLES, openReadModel } from '../../projections/index.js';
import { decideGroup } from '../../src/domain/group/decide.js';
import { openSqliteEventStore } from '../../src/store/sqlite.js';
import type { RecordedEvent } from '../../src/store/port.js';
import { COMMAND_ID, STEP_MS, instantOf, type Ack, type CrashConfig } from './support/crashPlan.js';
import { dueTimeProblems, groupStates, readModelProblems, shapeProblems, timeOrderProblems } from './support/logChecks.js';
import { startWorker } from './support/processes.js';
import { removeScratchDirs, scratchDir } from './support/scratch.js';
import { mulberry32 } from '../../src/kernel/random.js';
import { readWholeLog } from '../../src/store/logPages.js';

const KILL_POINTS = Number(process.env.REKEY_KILL_POINTS ?? 55);
const SEED = Number(process.env.REKEY_CRASH_SEED ?? 20_260_101);
const FINAL_COMMANDS = 25;
const DAY_MS = 24 * 60 * 60 * 1000;

afterAll(removeScratchDirs);

describe('crash safety: the engine process killed with SIGKILL at random points', () => {
  const dir = scratchDir('crash', { keep: true }); // removed when the run passes, kept to look at when it fails
  const db = join(dir, 'rekey.db');
  const readModelFile = `${db}.read.db`;
  const config = (from: number, extra: Partial<CrashConfig> = {}): CrashConfig => ({
    db, journal: join(dir, 'machine-keys.jsonl'), seed: SEED, from, until: from + 100_000, offsetMs: 0, tickAt: null, readModel: true, ...extra,
  });
  const acks = new Map<number, Ack>();
  let lastAck = -1;
  let outage: { events: RecordedEvent[]; firstNew: number; resumeAt: number } | undefined;
  const figures = { killPoints: 0, killedDuringStartup: 0, killedMidCommand: 0, commands: 0, refused: 0, events: 0, seconds: 0, checkSeconds: 0, timeOrderProblems: 0 };

  const record = (line: unknown) => {
    const ack = line as Ack;
    if (typeof ack.ack !== 'number') return;
    // The stream resumes after the last acknowledged command: each command is acknowledged once, in order.
    expect(ack.ack).toBe(lastAck + 1);
    for (const [, commandId] of ack.events) expect(COMMAND_ID.exec(commandId)?.[1]).toBe(`c${ack.ack}`);
    acks.set(ack.ack, ack);
    lastAck = ack.ack;
  };

  /** Every invariant of the log and the read model, on the file as the killed process left it. */
  const check = async (when: string): Promise<RecordedEvent[]> => {
    const began = performance.now();
    const store = openSqliteEventStore({ file: db });
    try {
      const events = await readWholeLog(store);
      expect(shapeProblems(events), when).toEqual([]);
      expect(await store.verify(), when).toMatchObject({ ok: true, checked: events.length });
      const lost: string[] = [];
      for (const ack of acks.values()) {
        for (const [position, commandId, hash] of ack.events) {
          const event = events[position - 1];
          if (event?.metadata.commandId !== commandId || event.hash !== hash) lost.push(`c${ack.ack}: ${commandId} at ${position}`);
        }
      }
      expect(lost, `${when}: acknowledged events missing or changed`).toEqual([]);
      expect(dueTimeProblems(events), when).toEqual([]);
      // The log's time order is the subject of the skipped test below: recorded here, not asserted.
      figures.timeOrderProblems = timeOrderProblems(events).length;
      expect((await readModelProblems(store, readModelFile)).problems, when).toEqual([]);
      return events;
    } finally {
      await store.close();
      figures.checkSeconds += (performance.now() - began) / 1000;
    }
  };

  it(`survives ${KILL_POINTS} kills at random points, then catches up on every due time after a long outage`, async () => {
    const began = performance.now();
    const random = mulberry32(SEED);
    const killOnce = async (kill: number) => {
      const byTime = random() < 0.25;
      const afterAcks = 1 + Math.floor(random() * 10);
      const delayMs = Math.floor(random() * 25);
      const startupMs = 150 + Math.floor(random() * 700);
      let seen = 0;
      let timer: NodeJS.Timeout | undefined;
      const worker = startWorker('crashWorker', config(lastAck + 1), (line) => {
        record(line);
        if (!byTime && ++seen === afterAcks) timer = setTimeout(() => worker.child.kill('SIGKILL'), delayMs);
        else if (byTime) seen++;
      });
      if (byTime) timer = setTimeout(() => worker.child.kill('SIGKILL'), startupMs);
      const exit = await worker.exited;
      clearTimeout(timer);
      expect(exit.signal, `kill ${kill}: the engine process died by itself:\n${exit.stderr}`).toBe('SIGKILL');
      figures.killPoints++;
      if (seen === 0) figures.killedDuringStartup++;
      else figures.killedMidCommand++;
      return check(`after kill ${kill} (last acknowledged command c${lastAck})`);
    };
    let before: RecordedEvent[] = [];
    for (let kill = 1; kill <= KILL_POINTS; kill++) before = await killOnce(kill);

    // ---- the long outage: months pass while the engine is down ----
    // The shortest outage in which a renewal starts and a key retires (in any group). When no outage
    // can show both (every group expired, or too few commands ran), the kills go on a little longer.
    const outageFor = (events: RecordedEvent[]) => {
      const lastEventAt = Math.max(...events.map((e) => Date.parse(e.metadata.occurredAt)));
      const latest = Math.max(lastEventAt, instantOf(lastAck + 1));
      const states = groupStates(events);
      for (let days = 10; days <= 400; days += 5) {
        const resumeAt = latest + days * DAY_MS;
        const expected = new Map([...states].map(([stream, state]) => [stream, decideGroup({ type: 'ProcessDue', at: resumeAt }, state)]));
        const types = [...expected.values()].flat().map((e) => e.type);
        if (types.includes('RenewalStarted') && types.includes('KeyExpired')) return { lastEventAt, resumeAt, expected };
      }
      return null;
    };
    let plan = outageFor(before);
    for (let kill = KILL_POINTS + 1; plan === null && kill <= KILL_POINTS + 40; kill++) plan = outageFor(before = await killOnce(kill));
    expect(plan, 'no outage shows both a renewal start and a key retirement').not.toBeNull();
    const { lastEventAt, resumeAt, expected } = plan!;
    const missed = [...expected.values()].flat();
    expect(missed.map((e) => e.type)).toEqual(expect.arrayContaining(['RenewalStarted', 'KeyExpired']));
    // All of them passed while the engine was down (the last command before may have been cut short).
    expect(missed.every((e) => e.at <= resumeAt && e.at > lastEventAt - STEP_MS)).toBe(true);

    const finalAcks: Ack[] = [];
    const from = lastAck + 1;
    const worker = startWorker('crashWorker', config(from, { until: from + FINAL_COMMANDS, offsetMs: resumeAt - instantOf(from), tickAt: resumeAt }), (line) => {
      if ((line as Ack).ack === 'tick') finalAcks.push(line as Ack);
      else if ((line as { done?: boolean }).done !== true) {
        record(line);
        finalAcks.push(line as Ack);
      }
    });
    const exit = await worker.exited;
    expect(exit, exit.stderr).toMatchObject({ code: 0, signal: null });
    const after = await check('after the last start');
    outage = { events: after, firstNew: before.length + 1, resumeAt };

    // The scheduler's catch-up: each group's due events, at their due instants, before anything else.
    const tick = finalAcks[0]!;
    expect(tick.ack).toBe('tick');
    const tickEvents = after.filter((e) => tick.events.some(([position]) => position === e.position));
    for (const [stream, events] of expected) {
      const recorded = tickEvents.filter((e) => e.stream === stream).map((e) => ({ type: e.type, data: e.data, occurredAt: e.metadata.occurredAt }));
      const wanted = events.map((e) => ({ type: e.type, data: JSON.parse(JSON.stringify(e.data)) as unknown, occurredAt: new Date(e.at).toISOString() }));
      expect(recorded, `due events of ${stream}`).toEqual(wanted);
    }
    for (const started of tickEvents.filter((e) => e.type === 'RenewalStarted')) {
      expect(started.metadata.occurredAt).toBe(started.data.startsAt);
    }
    // ... then it carries on with the command stream.
    expect(finalAcks.length).toBe(FINAL_COMMANDS + 1);
    expect(finalAcks.slice(1).flatMap((a) => a.events).length).toBeGreaterThan(0);
    for (const event of after.slice(before.length + tick.events.length)) {
      expect(Date.parse(event.metadata.occurredAt)).toBeGreaterThanOrEqual(resumeAt);
    }

    // The tables the runner kept through every kill equal a clean rebuild from the log.
    const store = openSqliteEventStore({ file: db });
    try {
      const kept = openReadModel({ store, file: readModelFile });
      const rebuilt = openReadModel({ store, file: ':memory:' });
      try {
        expect(kept.checkpoint().position).toBe(after.length);
        await rebuilt.rebuild();
        for (const table of TABLES) expect(isDeepStrictEqual(kept.rows(table), rebuilt.rows(table)), table).toBe(true);
        expect(kept.rows('flowmachines').length).toBe(6);
      } finally {
        await kept.close();
        await rebuilt.close();
      }
    } finally {
      await store.close();
    }

    const count = (type: string) => after.filter((e) => e.type === type).length;
    figures.commands = acks.size;
    figures.refused = [...acks.values()].filter((a) => a.refused !== null).length;
    figures.events = after.length;
    figures.seconds = Math.round((performance.now() - began) / 100) / 10;
    figures.checkSeconds = Math.round(figures.checkSeconds * 10) / 10;
    const summary = {
      ...figures,
      simulatedDays: Math.round((Date.parse(after.at(-1)!.metadata.occurredAt) - instantOf(0)) / DAY_MS),
      outageDays: Math.round((resumeAt - lastEventAt) / DAY_MS),
      caughtUp: missed.map((e) => e.type),
      renewalsStarted: count('RenewalStarted'),
      keysIssued: count('KeyIssued'),
      keysDelivered: count('MachineKeyDelivered'),
      keysExpired: count('KeyExpired'),
      machinesKeyExpired: count('MachineKeyExpired'),
      groupsKeyExpired: count('GroupKeyExpired'),
      reencrypted: count('ConnectionReencrypted'),
    };
    console.log(`crash safety: ${JSON.stringify(summary)}`);
    // The default run goes through several renewals of each group, each with kills around it.
    expect(summary.renewalsStarted).toBeGreaterThan(KILL_POINTS >= 50 ? 4 : 0);
    rmSync(dir, { recursive: true, force: true });
  }, 240_000);

  // Enable when Engine.processDue records the due times of all groups in instant order (the earliest
  // first, across groups) and drops retired ciphertexts at the retirement instant E (docs/reliability.md,
  // finding 1). Today it handles one group at a time and reconciles connections at clock.now() in
  // between: when due times of two groups fell between two commands (days without an engine
  // command, or an outage), a later group's events land after events stamped later, and `as of`
  // reads, which stop at the first later event, miss them.
  it.skip('the log never goes back in time, and retired ciphertexts are dropped at E, even after an outage', () => {
    expect(outage).toBeDefined();
    const { events, firstNew } = outage!;
    expect(timeOrderProblems(events)).toEqual([]);
    const retiredAt = new Map<string, string>();
    for (const event of events) if (event.type === 'KeyExpired') retiredAt.set(String(event.data.keyThumbprint), event.metadata.occurredAt);
    for (const event of events.slice(firstNew - 1)) {
      if (event.type === 'ConnectionCiphertextDropped') expect(event.metadata.occurredAt).toBe(retiredAt.get(String(event.data.keyThumbprint)));
    }
  });
});
