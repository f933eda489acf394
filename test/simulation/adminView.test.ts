/**
 * What the admin sees is what the engine did (issue 14): scenario files, written from the seed and
 * the rules alone, run through the real loader, simulator, engine and agents, then read back from
 * the tables (`rekey query`'s projection) at chosen instants. Each test is named after its rule.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { tablesAt, type Row } from '../../projections/index.js';
import { pooledKeyPairSource } from '../../src/crypto/index.js';
import { forecast } from '../../src/fleet/forecast.js';
import { parseInstant, plusMinutes, toIso } from '../../src/domain/time.js';
import { readinessReport } from '../../src/readiness/report.js';
import { loadScenario } from '../../src/simulation/loader.js';
import { simulate, type SimulationResult } from '../../src/simulation/simulator.js';
import { createInMemoryEventStore, type InMemoryEventStore } from '../../src/store/memory.js';
import type { RecordedEvent } from '../../src/store/port.js';

const keys = pooledKeyPairSource({ size: 4, recycle: true });
const iso = (text: string) => toIso(parseInstant(text));
const minutesAfter = (text: string, minutes: number) => toIso(plusMinutes(parseInstant(text), minutes));

interface Run {
  readonly store: InMemoryEventStore;
  readonly result: SimulationResult;
  readonly events: RecordedEvent[];
  rows(table: 'flowmachinegroups' | 'flowmachines' | 'desktopflowconnections', asOf: string): Promise<Row[]>;
  row(table: 'flowmachinegroups' | 'flowmachines' | 'desktopflowconnections', name: string, asOf: string): Promise<Row>;
}

async function run(file: unknown): Promise<Run> {
  const store: InMemoryEventStore = createInMemoryEventStore();
  const result = await simulate(loadScenario(file), { store, keys });
  const events = await store.readAll(1, 1_000_000);
  const rows = async (table: 'flowmachinegroups' | 'flowmachines' | 'desktopflowconnections', asOf: string) =>
    (await tablesAt(store, { asOf: parseInstant(asOf) })).tables[table];
  return {
    store,
    result,
    events,
    rows,
    async row(table, name, asOf) {
      const found = (await rows(table, asOf)).find((r) => r.name === name);
      if (!found) throw new Error(`no ${table} row named ${name} as of ${asOf}`);
      return found;
    },
  };
}

const online = (from: string, to: string) => [{ from, to }];

describe('what the admin sees is what the engine did', () => {
  beforeAll(() => keys.ready(), 60_000);

  it('R19: actions on a deleted group are refused GROUP_DELETED, and fixing its connection says the group was deleted', async () => {
    const { result } = await run({
      start: '2026-01-01T00:00:00Z',
      end: '2026-03-01T00:00:00Z',
      groups: [{ name: 'Finance', password: 'Fin-Passw0rd' }],
      machines: [{ name: 'FIN-01', group: 'Finance', agentVersion: '2.23.116.23040', joinAt: '2026-01-01T00:00:00Z', online: online('2026-01-01T00:00:00Z', '2026-03-01T00:00:00Z') }],
      connections: [{ name: 'Invoices', group: 'Finance', createAt: '2026-01-02T00:00:00Z', username: 'CONTOSO\\svc', password: 'cred-pw' }],
      actions: [
        { at: '2026-02-01T00:00:00Z', do: 'deleteGroup', group: 'Finance' },
        { at: '2026-02-02T00:00:00Z', do: 'setKeyValidityPeriod', group: 'Finance', minutes: 525_600 },
        { at: '2026-02-02T00:00:00Z', do: 'setKeyExpiryGracePeriod', group: 'Finance', minutes: 64_800 },
        { at: '2026-02-02T00:00:00Z', do: 'setProactiveReencryption', group: 'Finance', enabled: true },
        { at: '2026-02-02T00:00:00Z', do: 'deleteGroup', group: 'Finance' },
        { at: '2026-02-03T00:00:00Z', do: 'fixConnection', connection: 'Invoices', password: 'new-cred-pw' },
      ],
    });
    const refused = result.rejected.map((r) => ({ command: r.command, code: r.code }));
    expect(refused).toEqual([
      { command: 'setKeyValidityPeriod', code: 'GROUP_DELETED' },
      { command: 'setKeyExpiryGracePeriod', code: 'GROUP_DELETED' },
      { command: 'setProactiveReencryption', code: 'GROUP_DELETED' },
      { command: 'deleteGroup', code: 'GROUP_DELETED' },
      { command: 'fixConnection', code: 'TARGET_HAS_NO_LIVE_KEY' },
    ]);
    for (const r of result.rejected.slice(0, 4)) expect(r.message).toBe('machine group Finance was deleted; create a new group');
    const fix = result.rejected[4]!.message;
    expect(fix).toContain('group Finance has no live key');
    expect(fix).toContain('machine group Finance was deleted, which invalidated its keys (R19)');
    expect(fix).not.toContain('no machine joined it yet');
    expect(fix).not.toContain('new-cred-pw');
  });

  // v = 90 days, g = 45 days: S = 2026-02-15, E = 2026-04-01. Nobody is online at S; M2 rejoins
  // (offline, so no check-in) and the outdated M3 joins on 02-16, before the new key exists; M1
  // issues it on 02-20; M2 takes it at its next check-in, 02-25 12:00.
  const renewal = {
    start: '2026-01-01T00:00:00Z',
    end: '2026-04-30T00:00:00Z',
    groups: [{ name: 'G', password: 'G-Passw0rd', keyValidityPeriod: 129_600, keyExpiryGracePeriod: 64_800 }],
    machines: [
      { name: 'M1', group: 'G', agentVersion: '2.23.116.23040', joinAt: '2026-01-01T00:00:00Z', online: [{ from: '2026-01-01T00:00:00Z', to: '2026-01-20T00:00:00Z' }, { from: '2026-02-20T00:00:00Z', to: '2026-04-30T00:00:00Z' }] },
      { name: 'M2', group: 'G', agentVersion: '2.24.0.0', joinAt: '2026-01-01T00:00:00Z', online: [{ from: '2026-01-01T00:00:00Z', to: '2026-01-10T00:00:00Z' }, { from: '2026-02-25T12:00:00Z', to: '2026-04-30T00:00:00Z' }] },
      { name: 'M3', group: 'G', agentVersion: '2.22.5.1', online: online('2026-02-16T00:00:00Z', '2026-04-30T00:00:00Z') },
    ],
    actions: [
      { at: '2026-02-16T00:00:00Z', do: 'rejoin', machine: 'M2', password: 'G-Passw0rd' },
      { at: '2026-02-16T00:00:00Z', do: 'addMachine', machine: 'M3', password: 'G-Passw0rd' },
    ],
  };

  it('R12: a machine that rejoins during a renewal before the new key exists is PendingNewKey, like one that joins, and takes the key at its next check-in once it exists', async () => {
    const sim = await run(renewal);
    expect(sim.result.rejected).toEqual([]);
    const after = '2026-02-16T00:01:00Z';
    expect(await sim.row('flowmachines', 'M2', after)).toMatchObject({ keydeliverystatus: 2, 'keydeliverystatus@OData.Community.Display.V1.FormattedValue': 'PendingNewKey', keyreceiveddate: iso('2026-02-16T00:00:00Z') });
    expect(await sim.row('flowmachines', 'M3', after)).toMatchObject({ keydeliverystatus: 2 });
    // Readiness reports both as still waiting for the new key, so the group is not OK.
    const readiness = (await readinessReport(sim.store, parseInstant('2026-02-17T00:00:00Z'))).groups[0]!;
    expect(readiness.pendingNewKey).toEqual(['M1', 'M2', 'M3']);
    expect(readiness.verdict).not.toBe('OK');
    expect(readiness.reasons.join(' ')).toContain('M1, M2, M3 must come online before 2026-04-01T00:00:00.000Z');
    // M1 issues the key on 02-20; M2 is still pending until its check-in on 02-25 12:00 takes it (R12).
    expect(await sim.row('flowmachines', 'M1', '2026-02-20T00:00:00Z')).toMatchObject({ keydeliverystatus: 1, keyreceiveddate: iso('2026-02-20T00:00:00Z') });
    expect(await sim.row('flowmachines', 'M2', minutesAfter('2026-02-25T12:00:00Z', -1))).toMatchObject({ keydeliverystatus: 2 });
    expect(await sim.row('flowmachines', 'M2', '2026-02-25T12:00:00Z')).toMatchObject({ keydeliverystatus: 1, keyreceiveddate: iso('2026-02-25T12:00:00Z') });
    const delivered = sim.events.filter((e) => e.type === 'MachineKeyDelivered' && e.metadata.occurredAt < iso('2026-04-01T00:00:00Z')).map((e) => [e.data.machine, e.metadata.occurredAt]);
    expect(delivered).toEqual([['M2', iso('2026-02-25T12:00:00Z')]]);
    // At E the outdated joiner that never took the key is KeyExpired; M2 is not.
    expect(await sim.row('flowmachines', 'M3', '2026-04-01T00:00:00Z')).toMatchObject({ keydeliverystatus: 3, statecode: 2 });
    expect(await sim.row('flowmachines', 'M2', '2026-04-01T00:00:00Z')).toMatchObject({ keydeliverystatus: 1, statecode: 0 });
  });

  it('R3: settings changed during a renewal: rekey_nextrenewaldate is always the instant the engine starts the next renewal', async () => {
    // v = 365 days, g = 90 days: S1 = 2026-10-03, E1 = 2027-01-01. FIN-01 (always online) issues
    // key 2 at S1. On 10-10 the grace goes down to 45 days, then the validity to 90 days (picked up
    // 10-11). The seed's formula on key 2 now gives 2026-11-17, inside the window under way; the
    // engine starts that renewal when the window ends, at E1 (R3: never before the previous E).
    const sim = await run({
      start: '2026-01-01T00:00:00Z',
      end: '2027-03-01T00:00:00Z',
      groups: [{ name: 'Finance', password: 'Fin-Passw0rd', keyValidityPeriod: 525_600, keyExpiryGracePeriod: 129_600 }],
      machines: [{ name: 'FIN-01', group: 'Finance', agentVersion: '2.23.116.23040', joinAt: '2026-01-01T00:00:00Z', online: online('2026-01-01T00:00:00Z', '2027-03-01T00:00:00Z') }],
      actions: [
        { at: '2026-10-10T00:00:00Z', do: 'setKeyExpiryGracePeriod', group: 'Finance', minutes: 64_800 },
        { at: '2026-10-10T00:00:00Z', do: 'setKeyValidityPeriod', group: 'Finance', minutes: 129_600 },
      ],
    });
    expect(sim.result.rejected).toEqual([]);
    const started = sim.events.filter((e) => e.type === 'RenewalStarted').map((e) => e.metadata.occurredAt);
    expect(started).toEqual([iso('2026-10-03T00:00:00Z'), iso('2027-01-01T00:00:00Z'), iso('2027-02-15T00:00:00Z')]);
    const shown = async (asOf: string) => (await sim.row('flowmachinegroups', 'Finance', asOf)).rekey_nextrenewaldate;
    // Once the changes are recorded (even before their pickup), the date shown is the next
    // RenewalStarted the log holds, never a date in the past.
    const instants = [
      '2026-10-10T00:00:00Z', '2026-10-10T23:59:00Z', '2026-10-11T00:00:00Z', '2026-10-11T00:01:00Z', '2026-11-16T23:59:00Z',
      '2026-11-17T00:00:00Z', '2026-11-17T00:01:00Z', '2026-12-31T23:59:00Z', '2027-01-01T00:00:00Z', '2027-01-01T00:01:00Z', '2027-02-14T23:59:00Z',
    ];
    for (const asOf of instants) {
      const next = started.find((at) => at > iso(asOf));
      expect(await shown(asOf), `as of ${asOf}`).toBe(next);
      expect(Date.parse(next!)).toBeGreaterThan(Date.parse(asOf));
    }
    // Before the changes, key 2 (issued at S1 with v = 365 days) would renew at c + v - g.
    expect(await shown('2026-10-03T00:00:00Z')).toBe(iso('2027-07-05T00:00:00Z'));
    expect(await shown('2026-10-09T23:59:00Z')).toBe(iso('2027-07-05T00:00:00Z'));
    // A minute before S1 the date is S1 itself (seed: Key Creation Date + validity - grace).
    expect(await shown('2026-10-02T23:59:00Z')).toBe(iso('2026-10-03T00:00:00Z'));
  });

  it('R21: lastheartbeatdate follows the online interval\'s check-in schedule for a machine that joined part-way through it, and shows no check-in at end', async () => {
    // Check-ins every 12 h. M2's interval starts 01-01 03:00, so it checks in at 03:00 and 15:00; it
    // joins at 01-03 05:00 (a check-in of its own). v = 90 days, g = 45 days: S = 02-15 00:00, when
    // M1 issues the key; M2 takes it at its 03:00 check-in. M1 and M3 check in at 00:00 and 12:00,
    // and are online until end (M3 even past it): nothing happens at end.
    const end = '2026-03-01T00:00:00Z';
    const sim = await run({
      start: '2026-01-01T00:00:00Z',
      end,
      settings: { checkInIntervalMinutes: 720 },
      groups: [{ name: 'G', password: 'G-Passw0rd', keyValidityPeriod: 129_600, keyExpiryGracePeriod: 64_800 }],
      machines: [
        { name: 'M1', group: 'G', agentVersion: '2.23.116.23040', joinAt: '2026-01-01T00:00:00Z', online: online('2026-01-01T00:00:00Z', end) },
        { name: 'M2', group: 'G', agentVersion: '2.23.116.23040', joinAt: '2026-01-03T05:00:00Z', online: online('2026-01-01T03:00:00Z', end) },
        { name: 'M3', group: 'G', agentVersion: '2.23.116.23040', joinAt: '2026-01-01T00:00:00Z', online: online('2026-01-01T00:00:00Z', '2026-04-01T00:00:00Z') },
      ],
    });
    const beat = async (machine: string, asOf: string) => (await sim.row('flowmachines', machine, asOf)).lastheartbeatdate;
    expect(await beat('M2', '2026-01-03T05:00:00Z')).toBe(iso('2026-01-03T05:00:00Z')); // the join
    expect(await beat('M2', '2026-01-03T14:59:00Z')).toBe(iso('2026-01-03T05:00:00Z'));
    expect(await beat('M2', '2026-01-03T15:00:00Z')).toBe(iso('2026-01-03T15:00:00Z'));
    expect(await beat('M2', '2026-01-04T04:59:00Z')).toBe(iso('2026-01-04T03:00:00Z'));
    // The check-in that took the key is one the table shows, at the instant it happened.
    const delivered = sim.events.find((e) => e.type === 'MachineKeyDelivered' && e.data.machine === 'M2')!;
    expect(delivered.metadata.occurredAt).toBe(iso('2026-02-15T03:00:00Z'));
    expect(await beat('M2', '2026-02-15T04:59:00Z')).toBe(iso('2026-02-15T03:00:00Z'));
    expect(await sim.row('flowmachines', 'M2', '2026-02-15T03:00:00Z')).toMatchObject({ keyreceiveddate: iso('2026-02-15T03:00:00Z'), lastheartbeatdate: iso('2026-02-15T03:00:00Z') });
    // At end nothing happens: the last check-ins are the ones before it.
    expect(await beat('M1', end)).toBe(iso('2026-02-28T12:00:00Z'));
    expect(await beat('M2', end)).toBe(iso('2026-02-28T15:00:00Z'));
    expect(await beat('M3', end)).toBe(iso('2026-02-28T12:00:00Z'));
    expect(await beat('M1', minutesAfter(end, -1))).toBe(iso('2026-02-28T12:00:00Z'));
  });

  it('R16: an inactive group (every member KeyExpired, in Maintenance) is as unable to renew as an empty one, in readiness and forecast', async () => {
    // v = 180 days, g = 45 days: S1 = 2026-05-16, E1 = 2026-06-30, S2 = 2026-09-28. G1 and H1 take
    // part; G2 is offline through the window and ends KeyExpired. On 07-01 G1 and H1 are removed:
    // G keeps only G2 (inactive), H nobody (empty). Microsoft's page: "If a machine group is empty
    // or inactive during the renewal, its certificate will expire."
    const always = online('2026-01-01T00:00:00Z', '2026-07-02T00:00:00Z');
    const sim = await run({
      start: '2026-01-01T00:00:00Z',
      end: '2026-07-02T00:00:00Z',
      groups: [
        { name: 'G', password: 'G-Passw0rd', keyValidityPeriod: 259_200, keyExpiryGracePeriod: 64_800 },
        { name: 'H', password: 'H-Passw0rd', keyValidityPeriod: 259_200, keyExpiryGracePeriod: 64_800 },
      ],
      machines: [
        { name: 'G1', group: 'G', agentVersion: '2.23.116.23040', joinAt: '2026-01-01T00:00:00Z', online: always },
        { name: 'G2', group: 'G', agentVersion: '2.23.116.23040', joinAt: '2026-01-01T00:00:00Z', online: online('2026-01-01T00:00:00Z', '2026-01-02T00:00:00Z') },
        { name: 'H1', group: 'H', agentVersion: '2.23.116.23040', joinAt: '2026-01-01T00:00:00Z', online: always },
      ],
      actions: [
        { at: '2026-07-01T00:00:00Z', do: 'removeMachine', machine: 'G1' },
        { at: '2026-07-01T00:00:00Z', do: 'removeMachine', machine: 'H1' },
      ],
    });
    expect(sim.result.rejected).toEqual([]);
    expect(await sim.row('flowmachines', 'G2', '2026-07-02T00:00:00Z')).toMatchObject({ keydeliverystatus: 3, statecode: 2, 'statecode@OData.Community.Display.V1.FormattedValue': 'Maintenance' });

    const readiness = await readinessReport(sim.store);
    const [g, h] = readiness.groups;
    expect(h).toMatchObject({ name: 'H', verdict: 'will expire', inactive: false, renewalStart: iso('2026-09-28T00:00:00Z') });
    expect(g).toMatchObject({ name: 'G', verdict: 'will expire', inactive: true, keyExpired: ['G2'], renewalStart: iso('2026-09-28T00:00:00Z') });
    expect(g!.reasons[0]).toBe('the group is inactive: every member (G2) is KeyExpired (Maintenance), so, like an empty group, nobody can renew its key; add or rejoin a machine with the current password, or delete the group');
    // A week earlier G1 was still an active member: not inactive.
    expect((await readinessReport(sim.store, parseInstant('2026-06-30T12:00:00Z'))).groups[0]).toMatchObject({ inactive: false });

    const ahead = await forecast(sim.store, { keys });
    const byName = new Map(ahead.groups.map((group) => [group.name, group]));
    for (const name of ['G', 'H']) {
      expect(byName.get(name), name).toMatchObject({ verdict: 'will expire', renewalStart: iso('2026-09-28T00:00:00Z'), renewalEnd: iso('2026-11-12T00:00:00Z') });
    }
    expect(byName.get('G')!.expiresBecause).toBe('group inactive: every member (G2) is KeyExpired (Maintenance), so no active machine can renew its key and, like an empty group, its key expires (R16)');
    expect(byName.get('G')!.todo.map((t) => t.what)).toContain(`add or rejoin a machine to G with its current password before ${iso('2026-09-28T00:00:00Z')} (an inactive group's key expires at ${iso('2026-11-12T00:00:00Z')}: no member is active), or delete G`);
    expect(byName.get('H')!.expiresBecause).toContain('group empty');
  });
});
