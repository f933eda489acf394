/**
 * The engine as a process, for the crash-safety test (crash.test.ts kills it with SIGKILL at random
 * points and starts it again). It runs the built engine (dist/, so that a start costs half a second,
 * not the six seconds of transpiling the sources), real machine agents with real keys, and the
 * projection runner following the log live, on one SQLite file. It executes the seeded command
 * stream of crashPlan.ts from `config.from` on, and prints one `Ack` line per completed command.
 *
 * Idempotence: every engine command of command k carries a command id derived from k (`c<k>:...`),
 * so a command that was cut short and is executed again after a restart records only what it had
 * not recorded yet. The machine agents call the engine without command ids, so they get an engine
 * whose agent-facing methods add them (`withCommandIds`); everything else is the real engine.
 *
 * The machines' key stores: every key pair a machine generates is written (and fsynced) to a small
 * journal before it is used. On start, each machine gets back the keys that the log says it holds,
 * found in the journal by public key. That is what a machine with a durable key store of its own
 * would hold, and it never reaches the event store.
 *
 * Usage: node crashWorker.js '<CrashConfig as JSON>' with REKEY_ROOT set to the repository.
 */
import { createPrivateKey, createPublicKey, randomUUID, type KeyObject } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import {
  CONNECTIONS, GRACE, MACHINES, VALIDITY, credentialOf, groupOf, initialPassword, instantOf, planCommand,
  regeneratedPassword, type Ack, type CrashConfig, type Planned,
} from './crashPlan.js';

const root = process.env.REKEY_ROOT;
if (!root) throw new Error('REKEY_ROOT is not set');
const dist = (path: string) => import(`${root}/dist/${path}`);
const { Engine } = (await dist('src/engine/engine.js')) as typeof import('../../../src/engine/engine.js');
const { MachineAgent } = (await dist('src/engine/agent.js')) as typeof import('../../../src/engine/agent.js');
const portal = (await dist('src/engine/portal.js')) as typeof import('../../../src/engine/portal.js');
const { openSqliteEventStore } = (await dist('src/store/sqlite.js')) as typeof import('../../../src/store/sqlite.js');
const { openReadModel } = (await dist('projections/index.js')) as typeof import('../../../projections/index.js');
const { generateKeyPair, parseCertificate } = (await dist('src/crypto/index.js')) as typeof import('../../../src/crypto/index.js');
const { isRekeyError } = (await dist('src/kernel/errors.js')) as typeof import('../../../src/kernel/errors.js');
const { keyByVersion } = (await dist('src/domain/group/state.js')) as typeof import('../../../src/domain/group/state.js');

type Engine = import('../../../src/engine/engine.js').Engine;
type MachineAgent = import('../../../src/engine/agent.js').MachineAgent;

const config = JSON.parse(process.argv[2]!) as CrashConfig;

// ---- the key journal ---------------------------------------------------------------------------
const spkiHex = (key: KeyObject) => key.export({ type: 'spki', format: 'der' }).toString('hex');
const journal = new Map<string, KeyObject>();
if (existsSync(config.journal)) {
  for (const line of readFileSync(config.journal, 'utf8').split('\n')) {
    if (!line.endsWith('}')) continue; // a line cut short by a kill: that key was never handed out
    const privateKey = createPrivateKey((JSON.parse(line) as { pkcs8: string }).pkcs8);
    journal.set(spkiHex(createPublicKey(privateKey)), privateKey);
  }
}
const journalledKeys = {
  async next() {
    const pair = await generateKeyPair();
    const fd = openSync(config.journal, 'a');
    try {
      writeSync(fd, `${JSON.stringify({ pkcs8: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) })}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    journal.set(spkiHex(pair.publicKey), pair.privateKey);
    return pair;
  },
};

// ---- the engine, its clock and its ids ---------------------------------------------------------
let prefix = 'start';
const clock = { at: instantOf(config.from) + config.offsetMs, now() { return this.at; } };
const ids = { next: () => `${prefix}-auto-${randomUUID()}` };
const store = openSqliteEventStore({ file: config.db });
const readModel = config.readModel ? openReadModel({ store, file: `${config.db}.read.db` }) : null;
await readModel?.start();
const engine = await Engine.open({ store, clock, ids });

/** The real engine; the methods machine agents call get the command id of the current command. */
function withCommandIds(target: Engine): Engine {
  const id = (method: string, ...names: string[]) => ({ commandId: `${prefix}:${method}:${names.join(':')}` });
  const overrides: Record<string, (...args: never[]) => unknown> = {
    joinMachine: (request: Parameters<Engine['joinMachine']>[0]) => target.joinMachine(request, id('joinMachine', request.group, request.machine)),
    rejoinMachine: (input: Parameters<Engine['rejoinMachine']>[0]) => target.rejoinMachine(input, id('rejoinMachine', input.group, input.machine)),
    issueRenewalKey: (group: string, machine: string, pem: string, wrapped: Parameters<Engine['issueRenewalKey']>[3]) =>
      target.issueRenewalKey(group, machine, pem, wrapped, id('issueRenewalKey', group, machine)),
    acceptNewKey: (group: string, machine: string) => target.acceptNewKey(group, machine, id('acceptNewKey', group, machine)),
    reencrypt: (connection: string, machine: string, ciphertext: Parameters<Engine['reencrypt']>[2], proactive: boolean) =>
      target.reencrypt(connection, machine, ciphertext, proactive, id('reencrypt', connection, machine)),
    recordRun: (connection: string, machine: string, thumbprint: string, reencrypted: Parameters<Engine['recordRun']>[3]) =>
      target.recordRun(connection, machine, thumbprint, reencrypted, id('recordRun', connection)),
    regeneratePassword: (group: string, machine: string, thumbprint: string, passwordPackage: string) =>
      target.regeneratePassword(group, machine, thumbprint, passwordPackage, id('regeneratePassword', group, machine)),
    reportAgentVersion: (group: string, machine: string, agentVersion: string) =>
      target.reportAgentVersion(group, machine, agentVersion, id('reportAgentVersion', group, machine)),
  };
  return new Proxy(target, {
    get(object, property, receiver) {
      if (typeof property === 'string' && property in overrides) return overrides[property];
      const value = Reflect.get(object, property, receiver) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(object) : value;
    },
  });
}
const agentEngine = withCommandIds(engine);
const commandId = (method: string, ...names: string[]) => ({ commandId: `${prefix}:${method}:${names.join(':')}` });

const agents = new Map<string, MachineAgent>();
for (const machine of MACHINES) {
  agents.set(machine.name, new MachineAgent({ engine: agentEngine, machineId: `m-${machine.name}`, name: machine.name, agentVersion: machine.agentVersion, keys: journalledKeys }));
}
// Each machine takes back the keys the log says it holds (and its reported agent version).
for (const [name, agent] of agents) {
  const group = engine.fleet.groupOfMachine(name);
  const state = group === null ? undefined : engine.fleet.group(group);
  const member = state?.members[name];
  if (!state || !member) continue;
  agent.agentVersion = member.agentVersion;
  for (const version of member.keyVersions) {
    const key = keyByVersion(state, version)!;
    const privateKey = journal.get(spkiHex(parseCertificate(key.certificatePem).publicKey));
    if (!privateKey) throw new Error(`machine ${name} holds key v${version} of ${group} by the log, but no machine generated it`);
    agent.holdKey({ thumbprint: key.thumbprint, privateKey, certificatePem: key.certificatePem, group });
  }
}

// ---- the commands ------------------------------------------------------------------------------
async function currentPassword(group: string): Promise<string> {
  const stream = engine.fleet.groupStreamOf(group);
  const events = stream ? await store.readStream(stream) : [];
  const last = events.filter((e) => e.type === 'GroupPasswordSet' || e.type === 'GroupPasswordRegenerated').at(-1);
  const k = last?.type === 'GroupPasswordRegenerated' ? /^c(\d+):/.exec(last.metadata.commandId)?.[1] : undefined;
  return k === undefined ? initialPassword(group) : regeneratedPassword(group, Number(k));
}

/** Executes one planned command; false when it does not apply (a check-in of a machine that is offline). */
async function perform(command: Planned, k: number): Promise<boolean> {
  switch (command.kind) {
    case 'createGroup':
      await engine.createGroup({ name: command.group, keyValidityPeriod: VALIDITY, keyExpiryGracePeriod: GRACE }, commandId('createGroup', command.group));
      return true;
    case 'join':
      await agents.get(command.machine)!.join(groupOf(command.machine), initialPassword(groupOf(command.machine)));
      return true;
    case 'createConnection': {
      const group = CONNECTIONS.find((c) => c.name === command.connection)!.group;
      await portal.createConnection(engine, command.connection, { type: 'group', name: group }, credentialOf(command.connection), commandId('createConnection', command.connection));
      return true;
    }
    case 'checkIn': {
      const group = engine.fleet.groupOfMachine(command.machine);
      const member = group === null ? undefined : engine.fleet.group(group)?.members[command.machine];
      if (!member?.connected) return false;
      await agents.get(command.machine)!.checkIn();
      return true;
    }
    case 'checkInGroup': {
      const members = Object.values(engine.fleet.group(command.group)?.members ?? {}).filter((m) => m.connected).map((m) => m.name).sort();
      for (const name of members) await agents.get(name)?.checkIn();
      return members.length > 0;
    }
    case 'run': {
      await engine.processDue();
      const connection = engine.fleet.connection(command.connection);
      if (!connection) return false;
      if (connection.needsFix) {
        await engine.recordRunFailure(command.connection, 'CONNECTION_NEEDS_FIX', `desktop flow connection ${command.connection} needs fixing`, commandId('recordRunFailure', command.connection));
        return true;
      }
      const group = engine.fleet.group(connection.target.name);
      const runner = Object.keys(group?.members ?? {}).sort()
        .filter((name) => group!.members[name]!.connected)
        .map((name) => agents.get(name)!)
        .find((agent) => agent.usableKeyFor(connection) !== null);
      if (runner) await runner.run(command.connection);
      else await engine.recordRunFailure(command.connection, 'NO_MACHINE_CAN_RUN', `no online machine of group ${connection.target.name} can decrypt it`, commandId('recordRunFailure', command.connection));
      return true;
    }
    case 'setValidity':
      await engine.setKeyValidityPeriod(command.group, command.minutes, commandId('setKeyValidityPeriod', command.group));
      return true;
    case 'setGrace':
      await engine.setKeyExpiryGracePeriod(command.group, command.minutes, commandId('setKeyExpiryGracePeriod', command.group));
      return true;
    case 'connect':
      await engine.connectMachine(groupOf(command.machine), command.machine, 1440, commandId('connectMachine', command.machine));
      return true;
    case 'disconnect':
      await engine.disconnectMachine(groupOf(command.machine), command.machine, commandId('disconnectMachine', command.machine));
      return true;
    case 'regenerate':
      await agents.get(command.machine)!.regeneratePassword(regeneratedPassword(groupOf(command.machine), k));
      return true;
    case 'rejoin':
      await agents.get(command.machine)!.rejoin(await currentPassword(groupOf(command.machine)));
      return true;
    case 'fix':
      await portal.fixConnection(engine, command.connection, credentialOf(command.connection), commandId('fixConnection', command.connection));
      return true;
    case 'proactive':
      await engine.setProactiveReencryption(command.group, command.enabled, commandId('setProactiveReencryption', command.group));
      return true;
    case 'updateAgent':
      await agents.get(command.machine)!.updateAgent(command.agentVersion);
      return true;
    case 'tick':
      await engine.processDue();
      return true;
  }
}

async function step(label: number | 'tick', kind: string, work: () => Promise<boolean>): Promise<void> {
  const before = await store.headPosition();
  let refused: string | null = null;
  let skipped = false;
  try {
    skipped = !(await work());
  } catch (error) {
    if (!isRekeyError(error)) throw error; // anything else is a bug: the process dies and the test says so
    refused = error.code;
  }
  const head = await store.headPosition();
  const events = head > before ? await store.readAll(before + 1, head - before) : [];
  const ack: Ack = {
    ack: label,
    kind,
    at: new Date(clock.at).toISOString(),
    refused,
    skipped,
    events: events.map((e) => [e.position, e.metadata.commandId, e.hash]),
  };
  process.stdout.write(`${JSON.stringify(ack)}\n`);
}

if (config.tickAt !== null) {
  prefix = 'tick';
  clock.at = config.tickAt;
  await step('tick', 'tick', async () => (await engine.processDue(), true));
}
for (let k = config.from; k < config.until; k++) {
  prefix = `c${k}`;
  clock.at = instantOf(k) + config.offsetMs;
  const command = planCommand(config.seed, k);
  await step(k, command.kind, () => perform(command, k));
}
await readModel?.close();
await store.close();
process.stdout.write(`${JSON.stringify({ done: true })}\n`);
