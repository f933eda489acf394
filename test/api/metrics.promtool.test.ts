/**
 * GET /metrics checked by Prometheus' own linter, `promtool check metrics` (Debian's prometheus
 * package): base units only, `_total` only on counters, every counter sampled from the first scrape,
 * and the cert-manager-style `rekey_group_ready_status{group, condition}` family.
 */
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { servedExample, type Fixture } from './support/fixtures.js';

let fx: Fixture;
beforeAll(async () => {
  // The sample fleet's lab group lets its key expire (R16): it is not ready, the others are.
  fx = await servedExample('sample-fleet');
});
afterAll(async () => {
  await fx?.close();
});

const sample = (text: string, name: string, labels: string) => {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`) || (labels === '' && l.startsWith(`${name} `)));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
};

describe('GET /metrics', () => {
  it('passes promtool check metrics', async () => {
    const text = await (await fetch(`${fx.url}/metrics`)).text();
    const result = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 60_000 });
    expect(result.stdout + result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it('counts from the first scrape: every counter has a 0 sample per outcome before anything happened', async () => {
    const text = await (await fetch(`${fx.url}/metrics`)).text();
    for (const outcome of ['success', 'failure']) expect(sample(text, 'rekey_webhook_attempts_total', `outcome="${outcome}"`)).toBe(0);
    for (const outcome of ['delivered', 'failed', 'dropped']) expect(sample(text, 'rekey_webhook_deliveries_total', `outcome="${outcome}"`)).toBe(0);
  });

  it('has rekey_group_ready_status per group and condition (1 for the group\'s, 0 for the others), durations in seconds', async () => {
    const text = await (await fetch(`${fx.url}/metrics`)).text();
    const groups = (await (await fetch(`${fx.url}/api/data/v9.2/flowmachinegroups?$select=name,statuscode,keyvalidityperiod,keyexpirygraceperiod,primarypublickey`)).json()).value as { name: string; statuscode: number; keyvalidityperiod: number; keyexpirygraceperiod: number; primarypublickey: string | null }[];
    expect(groups.length).toBeGreaterThan(0);
    const conditions = new Set<string>();
    for (const group of groups) {
      const values = ['True', 'False', 'Unknown'].map((condition) => [condition, sample(text, 'rekey_group_ready_status', `group="${group.name}",condition="${condition}"`)] as const);
      expect(values.filter(([, value]) => value === 1), group.name).toHaveLength(1);
      expect(values.filter(([, value]) => value === 0), group.name).toHaveLength(2);
      const condition = values.find(([, value]) => value === 1)![0];
      conditions.add(condition);
      if (group.statuscode === 4) expect(condition).toBe('False');
      expect(sample(text, 'rekey_group_key_validity_period_seconds', `group="${group.name}"`)).toBe(group.keyvalidityperiod * 60);
      expect(sample(text, 'rekey_group_key_expiry_grace_period_seconds', `group="${group.name}"`)).toBe(group.keyexpirygraceperiod * 60);
    }
    expect(conditions.has('False')).toBe(true);
    expect(text).not.toMatch(/_minutes[{ ]/);
    expect(text).toMatch(/^rekey_group_key_expiration_timestamp_seconds\{group="[^"]+"\} \d+$/m);
  });
});
