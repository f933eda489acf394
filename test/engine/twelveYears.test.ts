/**
 * End to end on the SQLite store (issue 2): one group, three machines (FIN-03 offline through the
 * whole first renewal window), two connections (Invoices used weekly, Payroll never), twelve
 * simulated years, real keys and real encryption.
 */
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MachineAgent } from '../../src/engine/agent.js';
import { Engine } from '../../src/engine/engine.js';
import { seededIds } from '../../src/engine/ids.js';
import { createConnection } from '../../src/engine/portal.js';
import { manualClock, parseInstant, plusMinutes, toIso } from '../../src/domain/time.js';
import { openSqliteEventStore } from '../../src/store/sqlite.js';
import type { RecordedEvent } from '../../src/store/port.js';
import { recordingKeySource, secretsFound } from './secrets.js';

const DAY = 1440;
const T0 = parseInstant('2026-01-01T00:00:00Z');
const day = (n: number) => plusMinutes(T0, n * DAY);
// Default settings: v = 2,628,000 min (1,825 days), g = 259,200 min (180 days).
const S1 = day(1645);
const E1 = day(1825);
const PASSWORDS = ['Tr1cky-Passw0rd', 'Another-0ne'];
const CREDENTIALS = [
  { username: 'CONTOSO\\svc-invoices', password: 'n0t-in-the-log' },
  { username: 'CONTOSO\\svc-payroll', password: 'pa$$-payr0ll' },
];

describe('twelve years of one group on the SQLite store', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rekey-e2e-'));
  const file = join(dir, 'rekey.db');
  const keys = recordingKeySource();
  let events: RecordedEvent[] = [];
  const runs: { at: number; machine: string; keyThumbprint: string; username: string; heldByRunner: string[] }[] = [];

  beforeAll(async () => {
    const store = openSqliteEventStore({ file });
    const clock = manualClock(T0);
    const engine = await Engine.open({ store, clock, ids: seededIds(7) });
    const agent = (name: string) => new MachineAgent({ engine, machineId: `m-${name}`, name, agentVersion: '2.23.116.23040', keys });
    const machines = { 'FIN-01': agent('FIN-01'), 'FIN-02': agent('FIN-02'), 'FIN-03': agent('FIN-03') };
    const online = (name: string, at: number) => name !== 'FIN-03' || at < day(1600) || at >= day(1856);

    await engine.createGroup({ name: 'Finance' });
    await machines['FIN-01'].join('Finance', PASSWORDS[0]!);
    clock.set(day(1));
    await machines['FIN-02'].join('Finance', PASSWORDS[0]!);
    clock.set(day(2));
    await machines['FIN-03'].join('Finance', PASSWORDS[0]!);
    clock.set(day(3));
    await createConnection(engine, 'Invoices', { type: 'group', name: 'Finance' }, CREDENTIALS[0]!);
    await createConnection(engine, 'Payroll', { type: 'group', name: 'Finance' }, CREDENTIALS[1]!);

    let wasOnline = true;
    for (let d = 4; d <= 12 * 365; d++) {
      clock.set(day(d));
      await engine.processDue();
      const fin03Online = online('FIN-03', day(d));
      if (fin03Online !== wasOnline) {
        if (fin03Online) await engine.connectMachine('Finance', 'FIN-03');
        else await engine.disconnectMachine('Finance', 'FIN-03');
        wasOnline = fin03Online;
      }
      for (const [name, machine] of Object.entries(machines)) if (online(name, day(d))) await machine.checkIn();
      if (d === 1856 + 1) {
        // Back online a month after expiry: regenerate on an up-to-date machine, then rejoin (R17).
        await machines['FIN-01'].regeneratePassword(PASSWORDS[1]!);
        await machines['FIN-03'].rejoin(PASSWORDS[1]!);
      }
      if (d % 7 === 0 || d === 1860) {
        const connection = engine.connection('Invoices');
        // Runs pick the first machine by name that can decrypt; once, after its rejoin, FIN-03 runs it.
        const candidates = d === 1860 ? [machines['FIN-03']] : Object.values(machines);
        const runner = candidates.find((m) => online(m.name, day(d)) && m.usableKeyFor(connection));
        if (runner) {
          const held = runner.heldThumbprints();
          const result = await runner.run('Invoices');
          runs.push({ at: day(d), machine: runner.name, keyThumbprint: result.keyThumbprint, username: result.username, heldByRunner: held });
        }
      }
    }
    events = await store.readAll(1, 1_000_000);
    await store.close();
  }, 240_000);

  afterAll(() => undefined);

  const ofType = (type: string) => events.filter((event) => event.type === type);

  it('R10, R11: two renewals, each issuing exactly one new key at S', () => {
    expect(ofType('RenewalStarted').map((e) => e.metadata.occurredAt)).toEqual([toIso(S1), toIso(day(1645 * 2))]);
    expect(ofType('KeyIssued').map((e) => [e.data.version, e.metadata.occurredAt])).toEqual([
      [1, toIso(T0)],
      [2, toIso(S1)],
      [3, toIso(day(1645 * 2))],
    ]);
  });

  it('R12: the machines online during the window took the new key', () => {
    const delivered = ofType('MachineKeyDelivered').map((e) => [e.data.machine, e.data.keyVersion]);
    expect(delivered).toContainEqual(['FIN-02', 2]);
    expect(delivered).not.toContainEqual(['FIN-03', 2]);
    expect(delivered).toContainEqual(['FIN-03', 3]);
  });

  it('R15, R17: the offline machine became KeyExpired at E and rejoined after a password regeneration', () => {
    expect(ofType('KeyExpired').map((e) => [e.data.keyVersion, e.metadata.occurredAt])).toEqual([
      [1, toIso(E1)],
      [2, toIso(day(1645 * 2 + 180))],
    ]);
    expect(ofType('MachineKeyExpired').map((e) => [e.data.machine, e.metadata.occurredAt])).toEqual([['FIN-03', toIso(E1)]]);
    const regenerated = ofType('GroupPasswordRegenerated');
    const rejoined = ofType('MachineRejoined');
    expect(regenerated).toHaveLength(1);
    expect(rejoined.map((e) => e.data.machine)).toEqual(['FIN-03']);
    expect(rejoined[0]!.position).toBeGreaterThan(regenerated[0]!.position);
    expect(ofType('GroupKeyExpired')).toEqual([]);
  });

  it('R14, R15: the unused connection needs fixing at E; the used one was re-encrypted and never does', () => {
    const needsFix = ofType('ConnectionNeedsFix');
    expect(needsFix).toHaveLength(1);
    expect(needsFix[0]!.metadata.occurredAt).toBe(toIso(E1));
    const payrollStream = needsFix[0]!.stream;
    expect(events.find((e) => e.stream === payrollStream && e.type === 'ConnectionCreated')?.data.name).toBe('Payroll');
    const reencrypted = ofType('ConnectionReencrypted');
    expect(reencrypted.map((e) => e.data.machine)).toEqual(['FIN-01', 'FIN-01']);
    expect(reencrypted.every((e) => e.data.proactive === false)).toBe(true);
  });

  it('R13: after E the used connection decrypts with the new key on a machine that holds only the new key', () => {
    const afterExpiry = runs.filter((run) => run.at >= E1 && run.machine === 'FIN-03');
    expect(afterExpiry.length).toBeGreaterThan(0);
    const key2 = ofType('KeyIssued').find((e) => e.data.version === 2)!.data.thumbprint;
    const onlyNewKey = afterExpiry.find((run) => run.keyThumbprint === key2 && run.heldByRunner.length === 1);
    expect(onlyNewKey?.heldByRunner).toEqual([key2]);
    expect(onlyNewKey?.username).toBe(CREDENTIALS[0]!.username);
  });

  it('the store holds contiguous revisions and positions', () => {
    expect(events.map((e) => e.position)).toEqual(events.map((_, i) => i + 1));
    const byStream = new Map<string, number[]>();
    for (const e of events) byStream.set(e.stream, [...(byStream.get(e.stream) ?? []), e.revision]);
    for (const revisions of byStream.values()) expect(revisions).toEqual(revisions.map((_, i) => i));
  });

  it('no password, credential or private key generated in the run appears in the SQLite file or the log', () => {
    expect(keys.generated.length).toBe(3);
    const haystacks = [file, `${file}-wal`].filter(existsSync).map((path) => readFileSync(path));
    haystacks.push(Buffer.from(JSON.stringify(events)));
    const found = secretsFound(haystacks, {
      strings: [...PASSWORDS, ...CREDENTIALS.flatMap((c) => [c.password, c.username])],
      privateKeys: keys.generated.map((pair) => pair.privateKey),
    });
    expect(found).toEqual([]);
  });
});
