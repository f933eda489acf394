/**
 * Several servers on one store (issue 18): three `rekey serve` processes (the built binary) on one
 * SQLite file and its one read model file, fed the same command stream: every command goes to all
 * three at once with the same command id, as a client that retries through another server would.
 * Then the same group and connection names race with different command ids, as two admins would.
 * A `rekey query` runs beside them now and then (it writes the shared read model file too).
 * - Every command id is recorded exactly once (one append), and every one of them is recorded.
 * - No name is recorded twice: at most one live group or connection per name, ever; of a name race
 *   exactly one creation wins and the others are refused with GROUP_EXISTS / CONNECTION_EXISTS.
 * - Every server's tables equal a replay of the log, and the shared read model file equals one too.
 * - No answer of 500 or more (and none of them would go unlogged: each server's stderr has no
 *   failure line either).
 */
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { TABLES, tablesAt } from '../../projections/index.js';
import { inlineKeyPairSource } from '../../src/crypto/index.js';
import { manualClock } from '../../src/domain/time.js';
import { MachineAgent } from '../../src/engine/agent.js';
import { Engine } from '../../src/engine/engine.js';
import { seededIds } from '../../src/engine/ids.js';
import { openSqliteEventStore } from '../../src/store/sqlite.js';
import { mulberry32 } from '../../src/kernel/random.js';
import { readWholeLog } from '../../src/store/logPages.js';
import { readModelProblems, shapeProblems } from './support/logChecks.js';
import { runCli } from './support/processes.js';
import { removeScratchDirs, scratchDir } from './support/scratch.js';
import { getJson, post, startServe, type Answer, type ServeProcess } from './support/servers.js';

const SERVERS = 3;
const LANES = 4;
const COMMANDS_PER_LANE = Number(process.env.REKEY_MULTI_SERVER_COMMANDS ?? 30);

afterAll(removeScratchDirs);

interface Command {
  readonly name: string;
  readonly body: Record<string, unknown>;
}

/**
 * Groups with a member (a real key) made before the servers start: connections need a live key to
 * encrypt to, and a machine joins through the signed machine API, which is not what this test is about.
 */
async function keyedGroups(db: string, count: number): Promise<string[]> {
  const store = openSqliteEventStore({ file: db });
  const names = Array.from({ length: count }, (_, i) => `Keyed-${i}`);
  try {
    const engine = await Engine.open({ store, clock: manualClock(Math.floor(Date.now() / 1000) * 1000 - 60_000), ids: seededIds(18) });
    for (const name of names) {
      await engine.createGroup({ name });
      await new MachineAgent({ engine, machineId: `m-${name}`, name: `${name}-01`, agentVersion: '2.23.116.23040', keys: inlineKeyPairSource() }).join(name, `pw-${name}`);
    }
  } finally {
    await store.close();
  }
  return names;
}

/** One lane's commands, on names of its own: creations, settings, connections, a deletion and the name's reuse. */
function laneCommands(lane: number, random: () => number): Command[] {
  const groups = [`L${lane}-Finance`, `L${lane}-Payroll`];
  const commands: Command[] = groups.map((name) => ({ name: 'createGroup', body: { name } }));
  let connections = 0;
  let deleted = false;
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  // Every command changes something (a setting to its current value records nothing, by the rules).
  const defaults = () => ({ validity: 2_628_000, grace: 259_200, proactive: false });
  const settings = new Map(groups.map((group) => [group, defaults()]));
  while (commands.length < COMMANDS_PER_LANE) {
    const group = pick(groups);
    const current = settings.get(group)!;
    switch (pick(['validity', 'grace', 'proactive', 'connection', 'delete', 'due'] as const)) {
      case 'validity':
        current.validity = pick([1_051_200, 1_576_800, 2_628_000].filter((m) => m !== current.validity));
        commands.push({ name: 'setKeyValidityPeriod', body: { group, minutes: current.validity } });
        break;
      case 'grace':
        current.grace = pick([64_800, 129_600, 259_200].filter((m) => m !== current.grace));
        commands.push({ name: 'setKeyExpiryGracePeriod', body: { group, minutes: current.grace } });
        break;
      case 'proactive':
        current.proactive = !current.proactive;
        commands.push({ name: 'setProactiveReencryption', body: { group, enabled: current.proactive } });
        break;
      case 'connection':
        commands.push({ name: 'createConnection', body: { name: `L${lane}-Conn-${++connections}`, group: `Keyed-${lane}`, username: 'CONTOSO\\svc', password: `pw-${lane}-${connections}` } });
        break;
      case 'delete':
        if (deleted) break;
        deleted = true; // the name is used again at once: a new incarnation, a new stream
        settings.set(group, defaults());
        commands.push({ name: 'deleteGroup', body: { group } }, { name: 'createGroup', body: { name: group } });
        break;
      case 'due':
        commands.push({ name: 'processDue', body: {} });
        break;
    }
  }
  return commands.map((command, i) => ({ name: command.name, body: { ...command.body, commandId: `lane${lane}-${i}-${command.name}` } }));
}

describe('three rekey serve processes on one SQLite store', () => {
  it('record every command id exactly once, never a name twice, serve the tables of a replay, and answer no 500', async () => {
    const dir = scratchDir('servers');
    const db = join(dir, 'rekey.db');
    const servers: ServeProcess[] = [];
    const keyed = await keyedGroups(db, LANES);
    try {
      for (let i = 0; i < SERVERS; i++) servers.push(await startServe(['--db', db]));
      const answers: { server: number; command: Command; answer: Answer }[] = [];
      const sendToAll = async (command: Command) => {
        const results = await Promise.all(servers.map((server) => post(server.url, command.name, command.body)));
        results.forEach((answer, server) => answers.push({ server, command, answer }));
        return results;
      };

      // ---- the same stream through every server, lanes in parallel, a CLI reader beside them ----
      const random = mulberry32(1818);
      const lanes = Array.from({ length: LANES }, (_, lane) => laneCommands(lane, random));
      const reader = (async () => {
        const runs = [];
        for (let i = 0; i < 3; i++) runs.push(await runCli(['query', 'flowmachinegroups', '--db', db, '--json']));
        return runs;
      })();
      await Promise.all(lanes.map(async (commands) => {
        for (const command of commands) await sendToAll(command);
      }));
      for (const run of await reader) expect(run.status, run.stderr).toBe(0);

      // ---- the same names, different command ids: two admins racing ----
      const races: { command: string; results: Answer[] }[] = [];
      for (let k = 0; k < 6; k++) {
        const results = await Promise.all(servers.map((server, i) => post(server.url, 'createGroup', { name: `Race-${k}`, commandId: `race-${k}-admin-${i}` })));
        races.push({ command: 'createGroup', results });
        const connection = await Promise.all(servers.map((server, i) => post(server.url, 'createConnection', { name: `Race-Conn-${k}`, group: keyed[k % LANES], username: 'u', password: `p${i}`, commandId: `race-conn-${k}-admin-${i}` })));
        races.push({ command: 'createConnection', results: connection });
      }

      // ---- no 500, and nothing logged as a failure ----
      const failures = [...answers.map((a) => a.answer), ...races.flatMap((r) => r.results)].filter((a) => a.status >= 500);
      expect(failures).toEqual([]);
      for (const server of servers) expect(server.stderr()).not.toMatch(/rekey serve: \d{3} /);

      // ---- every command id once, every one of them there ----
      const store = openSqliteEventStore({ file: db, readonly: true });
      try {
        const events = await readWholeLog(store);
        expect(shapeProblems(events)).toEqual([]);
        const recordedIds = new Set(events.map((event) => event.metadata.commandId));
        for (const { command, answer } of answers) {
          expect(answer.status, JSON.stringify({ command, answer })).toBe(200);
          if (command.name === 'processDue') continue; // records what is due, if anything, under ids of its own
          expect(recordedIds.has(command.body.commandId as string), `${command.body.commandId as string} is in the log`).toBe(true);
        }
        // Of the three sends of each id, one recorded the events and the other two recorded nothing.
        const byId = new Map<string, Answer[]>();
        for (const { command, answer } of answers) byId.set(command.body.commandId as string, [...(byId.get(command.body.commandId as string) ?? []), answer]);
        for (const [id, sends] of byId) {
          const recorders = sends.filter((send) => (send.body.events ?? []).some((event) => events[event.position - 1]?.metadata.commandId === id));
          if (id.endsWith('processDue')) continue;
          expect(recorders.length, `${id}: sends that recorded it`).toBe(1);
        }

        // ---- name races: one winner each, the others refused by the rules ----
        for (const race of races) {
          const winners = race.results.filter((r) => r.status === 200 && (r.body.events ?? []).length > 0);
          const refused = race.results.filter((r) => r.status === 409).map((r) => r.body.error?.code);
          expect(winners, JSON.stringify(race)).toHaveLength(1);
          expect(refused).toEqual(Array(SERVERS - 1).fill(race.command === 'createGroup' ? 'GROUP_EXISTS' : 'CONNECTION_EXISTS'));
        }

        // ---- no name twice: in the log (creations never overlap for one name) and in the tables ----
        const live = new Map<string, string>();
        for (const event of events) {
          const name = (event.data as { name?: string }).name;
          if (event.type === 'GroupCreated' || event.type === 'ConnectionCreated') {
            const key = `${event.type}:${name}`;
            expect(live.get(key), `${key} created again at position ${event.position} while live in ${live.get(key)}`).toBeUndefined();
            live.set(key, event.stream);
          }
          if (event.type === 'GroupDeleted') {
            for (const [key, stream] of live) if (stream === event.stream) live.delete(key);
          }
        }
        const replay = await tablesAt(store);
        for (const table of ['flowmachinegroups', 'desktopflowconnections'] as const) {
          const names = replay.tables[table].map((row) => row.name);
          expect(new Set(names).size, `${table} names`).toBe(names.length);
        }
        expect(replay.tables.flowmachinegroups.length).toBe(LANES * 3 + 6);

        // ---- every server's tables equal the replay; so does the shared read model file ----
        for (const server of servers) {
          for (const table of TABLES) {
            const served = await getJson(server.url, `/api/data/v9.2/${table}`, { prefer: 'odata.include-annotations="*"' });
            expect(served.status).toBe(200);
            // The lookups' annotations are the response's (as Dataverse adds them), not the row's.
            const rows = (served.body.value as Record<string, unknown>[]).map((row) =>
              Object.fromEntries(Object.entries(row).filter(([column]) => !/@Microsoft\.Dynamics\.CRM\.(lookuplogicalname|associatednavigationproperty)$/.test(column))));
            const same = isDeepStrictEqual(rows, replay.tables[table]);
            expect(same, `${server.url} ${table}: ${JSON.stringify(served.body.value).slice(0, 300)}`).toBe(true);
          }
          const health = await getJson(server.url, '/health');
          expect(health).toMatchObject({ status: 200, body: { status: 'ok', position: events.length } });
        }
        const { problems } = await readModelProblems(store, `${db}.read.db`);
        expect(problems).toEqual([]);
        const raced = races.flatMap((race) => race.results);
        console.log(`multi-server: ${JSON.stringify({
          servers: SERVERS,
          sends: answers.length + raced.length,
          ids: byId.size + raced.length,
          events: events.length,
          retriedNoOps: answers.filter((a) => a.answer.status === 200 && (a.answer.body.events ?? []).length === 0).length,
          nameRacesRefused: raced.filter((r) => r.status === 409).length,
          groups: replay.tables.flowmachinegroups.length,
          connections: replay.tables.desktopflowconnections.length,
        })}`);
      } finally {
        await store.close();
      }
    } finally {
      for (const server of servers) {
        const { code, stderr } = await server.stop();
        expect(code, stderr).toBe(0);
      }
    }
  }, 120_000);
});
