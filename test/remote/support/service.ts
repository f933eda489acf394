/**
 * A rekey service on loopback for the remote tests: the engine on a SQLite store, a test clock, and
 * the machine API plugin in a fastify instance listening on 127.0.0.1 (a free port).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { Engine } from '../../../src/engine/engine.js';
import { RemoteAgent } from '../../../src/remote/agentProcess.js';
import type { Signer } from '../../../src/remote/client.js';
import { signingKeyFrom } from '../../../src/remote/signing.js';
import { randomIds } from '../../../src/engine/ids.js';
import { fastClock, type FastClock } from '../../../src/remote/clock.js';
import { engineAccess, type EngineAccess } from '../../../src/remote/engineAccess.js';
import { machineApi, type MachineApiOptions, type MachineApiPlugin } from '../../../src/remote/machineApi.js';
import { openSqliteEventStore, type SqliteEventStore } from '../../../src/store/sqlite.js';

export interface TestService {
  readonly url: string;
  readonly dir: string;
  readonly dbFile: string;
  readonly store: SqliteEventStore;
  readonly engine: Engine;
  readonly clock: FastClock;
  readonly access: EngineAccess;
  readonly plugin: MachineApiPlugin;
  readonly app: FastifyInstance;
  close(): Promise<void>;
}

export async function startService(options: { start: number; speed: number; api?: MachineApiOptions; beforeListen?: (app: FastifyInstance) => void }): Promise<TestService> {
  const dir = mkdtempSync(join(tmpdir(), 'rekey-remote-'));
  const dbFile = join(dir, 'rekey.db');
  const store = openSqliteEventStore({ file: dbFile });
  const clock = fastClock({ start: options.start, speed: options.speed, testClock: true });
  const engine = await Engine.open({ store, clock, ids: randomIds() });
  const access = engineAccess(engine, { clock });
  const plugin = machineApi(access, options.api);
  const app = Fastify({ logger: false });
  options.beforeListen?.(app);
  await app.register(plugin);
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    url, dir, dbFile, store, engine, clock, access, plugin, app,
    async close() {
      await app.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** An in-process agent of `group` on the service, its key store in `dir` (passwords by convention: `<group> Passw0rd`). */
export function agentFor(service: TestService, dir: string, name: string, group: string, keystore = `${name}.keystore`): RemoteAgent {
  return new RemoteAgent({
    server: service.url, name, group, keystoreFile: join(dir, keystore),
    machinePassphrase: async () => `${name} passphrase`, groupPassword: async () => `${group} Passw0rd`,
  });
}

/** Agents that joined and checked in once, and their request signers, by machine name. */
export async function joinedAgents(service: TestService, dir: string, members: readonly (readonly [name: string, group: string])[]) {
  const agents: Record<string, RemoteAgent> = {};
  const signers: Record<string, Signer> = {};
  for (const [name, group] of members) {
    const agent = agentFor(service, dir, name, group);
    await agent.open();
    await agent.join();
    await agent.checkIn();
    agents[name] = agent;
    signers[name] = { machine: name, key: signingKeyFrom(agent.store.contents.signingKey) };
  }
  return { agents, signers };
}
