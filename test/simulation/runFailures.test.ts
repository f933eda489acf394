/**
 * A run that cannot happen is recorded in Power Automate's vocabulary: a connection left unused
 * through its group's renewal is in "Fix connection", and its next run fails with
 * ExpiredDesktopFlowConnection, "The connection is no longer valid and needs to be updated."
 * (Microsoft's troubleshooting page for that error; docs/contract.md section 1.9).
 */
import { describe, expect, it } from 'vitest';
import { queryTable } from '../../projections/index.js';
import { pooledKeyPairSource } from '../../src/crypto/index.js';
import { isExpiredConnectionCode } from '../../src/domain/connection/runFailures.js';
import { loadScenario } from '../../src/simulation/loader.js';
import { simulate } from '../../src/simulation/simulator.js';
import { createInMemoryEventStore } from '../../src/store/memory.js';

const keys = pooledKeyPairSource({ size: 3, recycle: true });

// A 90-day key with a 45-day window; the connection never runs before the old key retires.
const scenario = {
  start: '2026-01-01T00:00:00Z',
  end: '2026-06-01T00:00:00Z',
  groups: [{ name: 'Finance', password: 'Tr1cky-Passw0rd', keyValidityPeriod: 129600, keyExpiryGracePeriod: 64800 }],
  machines: [{
    name: 'FIN-01', group: 'Finance', agentVersion: '2.23.116.23040', joinAt: '2026-01-01T00:00:00Z',
    online: [{ from: '2026-01-01T00:00:00Z', to: '2026-06-01T00:00:00Z' }],
  }],
  connections: [{
    name: 'Invoices', group: 'Finance', createAt: '2026-01-02T00:00:00Z', username: 'CONTOSO\\svc', password: 'n0t-in-the-log',
    runAt: ['2026-01-10T00:00:00Z', '2026-05-01T00:00:00Z'],
  }],
};

describe('run failures', () => {
  it('R15: a run of a connection left unused through the renewal fails with ExpiredDesktopFlowConnection', async () => {
    const store = createInMemoryEventStore();
    await simulate(loadScenario(scenario), { store, keys });
    const events = await store.readAll(1, 10_000);
    const runs = events.filter((e) => e.type === 'ConnectionRun' || e.type === 'ConnectionRunFailed');
    // The first run (before the renewal) succeeds; the one after the old key retired fails.
    expect(runs.map((e) => [e.metadata.occurredAt.slice(0, 10), e.type])).toEqual([
      ['2026-01-10', 'ConnectionRun'],
      ['2026-05-01', 'ConnectionRunFailed'],
    ]);
    const failed = runs[1]!.data as { code: string; reason: string };
    expect(failed.code).toBe('ExpiredDesktopFlowConnection');
    expect(failed.reason).toMatch(/^The connection is no longer valid and needs to be updated\. Desktop flow connection Invoices is in "Fix connection"/);
    const { value } = await queryTable({ store, table: 'desktopflowconnections' });
    expect(value.map((row) => [row.name, row.status])).toEqual([['Invoices', 'Fix connection']]);
  }, 60_000);

  it('the earlier name of the code in older logs is recognised as the same failure', () => {
    expect(isExpiredConnectionCode('ExpiredDesktopFlowConnection')).toBe(true);
    expect(isExpiredConnectionCode('CONNECTION_NEEDS_FIX')).toBe(true);
    expect(isExpiredConnectionCode('NO_MACHINE_CAN_RUN')).toBe(false);
  });
});
