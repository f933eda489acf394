/** Small stores for the reliability tests, made the way users make them: with the built CLI. */
import { copyFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from './processes.js';
import { scratchDir } from './scratch.js';

/** One group with the shortest keys (R1/R2 minima), two machines always online, one weekly connection. */
export const TINY_SCENARIO = {
  start: '2026-01-01T00:00:00Z',
  end: '2027-01-01T00:00:00Z',
  seed: 5,
  groups: [{ name: 'Ops', password: 'Ops-Passw0rd', keyValidityPeriod: 129_600, keyExpiryGracePeriod: 64_800 }],
  machines: [
    { name: 'OPS-01', group: 'Ops', agentVersion: '2.23.116.23040', joinAt: '2026-01-01T00:00:00Z', online: [{ from: '2026-01-01T00:00:00Z', to: '2027-01-01T00:00:00Z' }] },
    { name: 'OPS-02', group: 'Ops', agentVersion: '2.23.116.23040', joinAt: '2026-01-02T00:00:00Z', online: [{ from: '2026-01-02T00:00:00Z', to: '2027-01-01T00:00:00Z' }] },
  ],
  connections: [
    { name: 'Nightly', group: 'Ops', createAt: '2026-01-03T00:00:00Z', username: 'CONTOSO\\svc-nightly', password: 'n1ghtly-secret', runEveryMinutes: 10_080 },
  ],
};

/** A fresh temporary directory with the tiny scenario simulated into `tiny.db` (closed: no -wal left). */
export async function tinyStore(prefix: string): Promise<{ dir: string; db: string; scenario: string; events: number }> {
  const dir = scratchDir(prefix);
  const scenario = join(dir, 'tiny.json');
  writeFileSync(scenario, JSON.stringify(TINY_SCENARIO));
  const db = join(dir, 'tiny.db');
  const run = await runCli(['simulate', scenario, '--db', db, '--json']);
  if (run.status !== 0) throw new Error(`simulate failed: ${run.stderr}`);
  return { dir, db, scenario, events: (JSON.parse(run.stdout) as { events: number }).events };
}

/** A copy of a closed store file under another name in the same directory. */
export function copyStore(db: string, name: string): string {
  const copy = join(db, '..', name);
  copyFileSync(db, copy);
  if (existsSync(`${db}-wal`)) copyFileSync(`${db}-wal`, `${copy}-wal`);
  return copy;
}
