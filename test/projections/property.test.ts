/**
 * Property: for random command sequences run on the real engine (real keys, real SQLite), with a read
 * model following the store live and a change feed subscribed from the start,
 * - the live tables equal the tables rendered from scratch at the same position after every step;
 * - rebuilding from position 0 (a new read model, and a bare replay of the store) gives the live tables;
 * - the tables as of every instant t equal the live tables as they were at t (recorded while running);
 * - the change feed delivered live equals the feed replayed later from position 1, exactly once and in
 *   log order.
 * Renewals come quickly (validity 90 days, grace 45 days) and the clock jumps to due times and one
 * minute either side of them, where the rules change.
 */
import { join } from 'node:path';
import fc from 'fast-check';
import { firstValueFrom, toArray, take, type Subscription } from 'rxjs';
import { afterAll, describe, expect, it } from 'vitest';
import { plusMinutes } from '../../src/domain/time.js';
import { createConnection, fixConnection } from '../../src/engine/portal.js';
import { changeFeed, openReadModel, Projection, replayInto, tablesAt, TABLES, type RowChange, type Row, type TableName } from '../../projections/index.js';
import { openWorld, testKeys, type World } from './support/world.js';

const GROUPS = ['Alpha', 'Beta'] as const;
const MACHINES = ['M1', 'M2', 'M3', 'M4'] as const; // M4 runs an agent too old to renew (R8)
const CONNECTIONS = [
  { name: 'C-Alpha', group: 'Alpha' },
  { name: 'C-Beta', group: 'Beta' },
] as const;

type Command =
  | { kind: 'advance'; minutes: number }
  | { kind: 'checkInAll' }
  | { kind: 'toDue'; offset: -1 | 0 | 1 }
  | { kind: 'join'; machine: number; group: number }
  | { kind: 'connect' | 'disconnect' | 'checkIn' | 'remove' | 'regenerate' | 'rejoin' | 'updateAgent'; machine: number }
  | { kind: 'createConnection' | 'run' | 'fix'; connection: number }
  | { kind: 'setValidity'; group: number; minutes: number }
  | { kind: 'setGrace'; group: number; minutes: number }
  | { kind: 'setProactive'; group: number; enabled: boolean }
  | { kind: 'deleteGroup' | 'createGroup'; group: number };

const machine = fc.integer({ min: 0, max: MACHINES.length - 1 });
const group = fc.integer({ min: 0, max: GROUPS.length - 1 });
const connection = fc.integer({ min: 0, max: CONNECTIONS.length - 1 });
const commandArb: fc.Arbitrary<Command> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('advance' as const), minutes: fc.constantFrom(1, 60, 720, 1440, 10 * 1440, 40 * 1440) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('toDue' as const), offset: fc.constantFrom(-1 as const, 0 as const, 1 as const) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('checkInAll' as const) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('join' as const), machine, group }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constantFrom('connect' as const, 'disconnect' as const, 'checkIn' as const, 'checkIn' as const), machine }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom('remove' as const, 'regenerate' as const, 'rejoin' as const, 'updateAgent' as const), machine }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constantFrom('createConnection' as const, 'run' as const, 'run' as const, 'fix' as const), connection }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('setValidity' as const), group, minutes: fc.constantFrom(129_600, 172_800, 259_200) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('setGrace' as const), group, minutes: fc.constantFrom(64_800, 86_400) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('setProactive' as const), group, enabled: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom('deleteGroup' as const, 'createGroup' as const), group }) },
);

/** Runs one command; refusals are part of the game (the rules decide, the projection follows). */
async function run(world: World, passwords: Map<string, string>, command: Command, step: number): Promise<void> {
  const { engine } = world;
  const name = 'machine' in command ? MACHINES[command.machine]! : '';
  const agent = name ? world.agent(name, name === 'M4' ? '2.22.0.0' : '2.23.116.23040') : undefined;
  const groupOf = (index: number) => GROUPS[index]!;
  try {
    switch (command.kind) {
      case 'advance':
        return await world.at(plusMinutes(world.clock.now(), command.minutes));
      case 'checkInAll':
        for (const each of MACHINES) await run(world, passwords, { kind: 'checkIn', machine: MACHINES.indexOf(each) }, step);
        return;
      case 'toDue': {
        const due = engine.nextDueAt();
        if (due !== null) await world.at(Math.max(world.clock.now(), plusMinutes(due, command.offset)));
        return;
      }
      case 'join': {
        const target = groupOf(command.group);
        return await agent!.join(target, passwords.get(target) ?? `${target}-pw-0`);
      }
      case 'connect':
        return void (await engine.connectMachine(agent!.group ?? GROUPS[0], name));
      case 'disconnect':
        return void (await engine.disconnectMachine(agent!.group ?? GROUPS[0], name));
      case 'checkIn':
        return void (await agent!.checkIn());
      case 'remove':
        return void (await engine.removeMachine(agent!.group ?? GROUPS[0], name));
      case 'regenerate': {
        const target = agent!.group;
        if (!target) return;
        const password = `${target}-pw-${step}`;
        await agent!.regeneratePassword(password);
        passwords.set(target, password);
        return;
      }
      case 'rejoin':
        return await agent!.rejoin(passwords.get(agent!.group ?? '') ?? 'none');
      case 'updateAgent':
        return await agent!.updateAgent('2.24.0.0');
      case 'createConnection': {
        const c = CONNECTIONS[command.connection]!;
        return void (await createConnection(engine, c.name, { type: 'group', name: c.group }, { username: `CONTOSO\\${c.name}`, password: `secret-${step}` }));
      }
      case 'run': {
        const c = engine.connection(CONNECTIONS[command.connection]!.name);
        const runner = [...world.agents.values()].find((a) => a.usableKeyFor(c));
        if (runner) await runner.run(c.name);
        return;
      }
      case 'fix':
        return void (await fixConnection(engine, CONNECTIONS[command.connection]!.name, { username: 'CONTOSO\\fixed', password: `fixed-${step}` }));
      case 'setValidity':
        return void (await engine.setKeyValidityPeriod(groupOf(command.group), command.minutes));
      case 'setGrace':
        return void (await engine.setKeyExpiryGracePeriod(groupOf(command.group), command.minutes));
      case 'setProactive':
        return void (await engine.setProactiveReencryption(groupOf(command.group), command.enabled));
      case 'deleteGroup':
        return void (await engine.deleteGroup(groupOf(command.group)));
      case 'createGroup': {
        const target = groupOf(command.group);
        passwords.delete(target);
        return void (await engine.createGroup({ name: target, keyValidityPeriod: 129_600, keyExpiryGracePeriod: 64_800 }));
      }
    }
  } catch (error) {
    if (!(error instanceof Error) || !('code' in error)) throw error; // only the rules' refusals are expected
  }
}

type Tables = Record<TableName, Row[]>;

describe('projections over random command sequences on the engine', () => {
  const keys = testKeys();
  afterAll(() => undefined);

  it('live = rebuilt = as-of, and the live feed = the replayed feed', async () => {
    await keys.ready();
    await fc.assert(
      fc.asyncProperty(fc.array(group, { minLength: MACHINES.length, maxLength: MACHINES.length }), fc.array(commandArb, { minLength: 8, maxLength: 24 }), async (placement, commands) => {
        const world = await openWorld({ seed: commands.length });
        const model = openReadModel({ store: world.store, file: join(world.dir, 'live.read.db'), snapshotEvery: 5 });
        const liveChanges: RowChange[] = [];
        let feed: Subscription | undefined;
        try {
          await model.start();
          feed = changeFeed(world.store, { fromPosition: 1 }).subscribe((change) => liveChanges.push(change));
          for (const name of GROUPS) await world.engine.createGroup({ name, keyValidityPeriod: 129_600, keyExpiryGracePeriod: 64_800 });
          const passwords = new Map<string, string>();
          // Every machine joins a group, and both connections exist, before the random part.
          for (const [index, target] of placement.entries()) await run(world, passwords, { kind: 'join', machine: index, group: target }, -1);
          for (const index of CONNECTIONS.keys()) await run(world, passwords, { kind: 'createConnection', connection: index }, -1);
          /** The tables as they were at each instant the clock left (the last look before it moved wins). */
          const recorded = new Map<number, Tables>();
          for (const [step, command] of commands.entries()) {
            if (command.kind === 'advance' || command.kind === 'toDue') {
              // The tables as they are at this instant, before the clock moves on.
              await model.sync();
              const at = world.clock.now();
              recorded.set(at, Object.fromEntries(TABLES.map((t) => [t, model.rows(t, at)])) as Tables);
            }
            await run(world, passwords, command, step);
            const head = await world.head();
            await model.waitFor(head);
            const live = Object.fromEntries(TABLES.map((t) => [t, model.rows(t)])) as Tables;
            expect((await tablesAt(model, { position: head })).tables).toEqual(live);
          }
          const head = await world.head();
          await model.waitFor(head);
          const live = Object.fromEntries(TABLES.map((t) => [t, model.rows(t)])) as Tables;
          const end = world.clock.now();
          recorded.set(end, Object.fromEntries(TABLES.map((t) => [t, model.rows(t, end)])) as Tables);

          const rebuilt = openReadModel({ store: world.store, file: join(world.dir, 'rebuilt.read.db'), snapshotEvery: 7 });
          await rebuilt.rebuild();
          expect(Object.fromEntries(TABLES.map((t) => [t, rebuilt.rows(t)]))).toEqual(live);
          await rebuilt.close();
          expect((await tablesAt(world.store)).tables).toEqual(live);
          // The projection's compaction of retired keys changes no row.
          const plain = new Projection({ compact: false });
          await replayInto(world.store, plain);
          expect(plain.tables()).toEqual(live);
          // Nor does writing single members in place (memberWrites.ts): a copying fold gives the
          // same rows and the same changes.
          const copying = new Projection({ membersInPlace: false });
          const copyingChanges: RowChange[] = [];
          await replayInto(world.store, copying, {}, { sink: (change) => copyingChanges.push(change) });
          expect(copying.tables()).toEqual(live);

          for (const [at, tables] of recorded) {
            expect((await tablesAt(model, { asOf: at })).tables).toEqual(tables);
          }

          if (process.env.REKEY_PROPERTY_STATS) {
            const types = new Map<string, number>();
            for (const e of await world.store.readAll(1, 100_000)) types.set(e.type, (types.get(e.type) ?? 0) + 1);
            console.log(JSON.stringify(Object.fromEntries(types)));
          }
          // Every change of the log, folded once more from scratch.
          const expected: RowChange[] = [];
          await replayInto(world.store, new Projection(), {}, { sink: (change) => expected.push(change) });
          for (let waited = 0; liveChanges.length < expected.length && waited < 5_000; waited += 20) await new Promise((r) => setTimeout(r, 20));
          expect(liveChanges).toEqual(expected);
          expect(copyingChanges).toEqual(expected);
          const positions = liveChanges.map((change) => change.position);
          expect(positions).toEqual([...positions].sort((a, b) => a - b));
          const collect = async (fromPosition: number) => {
            const count = expected.filter((change) => change.position >= fromPosition).length;
            return count === 0 ? [] : firstValueFrom(changeFeed(model, { fromPosition }).pipe(take(count), toArray()));
          };
          expect(await collect(1)).toEqual(expected);
          const middle = Math.max(1, Math.floor(head / 2));
          expect(await collect(middle)).toEqual(expected.filter((change) => change.position >= middle));
        } finally {
          feed?.unsubscribe();
          await model.close();
          await world.close();
        }
      }),
      { numRuns: 12, endOnFailure: true },
    );
  }, 120_000);
});
