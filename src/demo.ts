/**
 * `npm start` until the CLI lands: a short, real demonstration of the engine on the embedded SQLite
 * store. One machine group with 90-day certificates renews while one of its three machines is
 * offline; the log is printed as it happened, then the state it left.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { inlineKeyPairSource } from './crypto/index.js';
import { MachineAgent } from './engine/agent.js';
import { Engine } from './engine/engine.js';
import { seededIds } from './engine/ids.js';
import { createConnection } from './engine/portal.js';
import { manualClock, parseInstant, plusMinutes, toIso } from './domain/time.js';
import { openSqliteEventStore } from './store/sqlite.js';
import { primaryKey } from './domain/group/state.js';

const DAY = 1440;
const file = join(process.env.REKEY_DEMO_DIR ?? 'data', 'demo.db');
for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });

const start = parseInstant('2026-01-01T00:00:00Z');
const clock = manualClock(start);
const store = openSqliteEventStore({ file });
const engine = await Engine.open({ store, clock, ids: seededIds(1) });
const keys = inlineKeyPairSource();
const names = ['FIN-01', 'FIN-02', 'FIN-03'];
const agents = names.map((name) => new MachineAgent({ engine, machineId: `demo-${name}`, name, agentVersion: '2.23.116.23040', keys }));
// FIN-03 is offline from day 30 to day 150, through the whole renewal window (days 45 to 90).
const online = (name: string, day: number) => name !== 'FIN-03' || day < 30 || day >= 150;

console.log(`rekey demo: machine group "Finance", 90-day certificates renewed in their last 45 days, on ${file}\n`);
await engine.createGroup({ name: 'Finance', keyValidityPeriod: 129_600, keyExpiryGracePeriod: 64_800 });
for (const agent of agents) await agent.join('Finance', 'demo-Passw0rd');
await createConnection(engine, 'Invoices', { type: 'group', name: 'Finance' }, { username: 'CONTOSO\\svc-invoices', password: 'demo-secret' });
await createConnection(engine, 'Payroll', { type: 'group', name: 'Finance' }, { username: 'CONTOSO\\svc-payroll', password: 'demo-secret-2' });

for (let day = 1; day <= 200; day++) {
  clock.set(plusMinutes(start, day * DAY));
  await engine.processDue();
  for (const agent of agents) if (online(agent.name, day)) await agent.checkIn();
  if (day % 7 === 0) {
    const runner = agents.find((agent) => online(agent.name, day) && agent.usableKeyFor(engine.connection('Invoices')));
    if (runner) await runner.run('Invoices');
  }
  if (day === 151) {
    await agents[0]!.regeneratePassword('new-Passw0rd');
    await agents[2]!.rejoin('new-Passw0rd');
  }
}

const interesting = new Set(['ConnectionRun', 'GroupPasswordSet']);
for (const event of await store.readAll(1, 10_000)) {
  if (interesting.has(event.type)) continue;
  const data = event.data as Record<string, unknown>;
  const who = data.machine ?? data.name ?? (data.version !== undefined ? `version ${data.version}` : data.keyVersion !== undefined ? `key version ${data.keyVersion}` : '');
  console.log(`${event.metadata.occurredAt.slice(0, 16)}  #${String(event.position).padStart(3)}  ${event.type.padEnd(28)} ${who}`);
}

const group = engine.group('Finance');
console.log(`\nFinance now uses key version ${primaryKey(group)?.version}, created ${toIso(primaryKey(group)!.createdAt)}.`);
for (const member of Object.values(group.members)) {
  console.log(`  ${member.name}: key delivery status ${['', 'Default', 'PendingNewKey', 'KeyExpired'][member.status]}`);
}
for (const name of ['Invoices', 'Payroll']) {
  console.log(`  connection ${name}: ${engine.connection(name).needsFix ? 'Fix connection' : 'Connected'}`);
}
console.log(`\n${await store.headPosition()} events in ${file}. Nothing secret is in it: only certificates, thumbprints and encrypted blobs.`);
await store.close();
