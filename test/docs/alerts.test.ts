/**
 * The alert rules of docs/alerts.md, checked by Prometheus' own promtool (Debian's prometheus
 * package, installed by .ci/run): the rules file is valid, every alert's unit test in
 * docs/alerts.test.yml passes, and the rules shown on the page are exactly the file's.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';

const DOCS = fileURLToPath(new URL('../../docs/', import.meta.url));
const promtool = (args: string[]) => spawnSync('promtool', args, { cwd: DOCS, encoding: 'utf8', timeout: 60_000 });

describe('docs/alerts.md rules', () => {
  it('pass promtool check rules', () => {
    const result = promtool(['check', 'rules', 'alerts.rules.yml']);
    expect(result.status, result.stderr + result.stdout).toBe(0);
    expect(result.stdout).toContain('SUCCESS: 6 rules found');
  });

  it('pass promtool test rules, with a unit test for every alert', () => {
    const result = promtool(['test', 'rules', 'alerts.test.yml']);
    expect(result.status, result.stderr + result.stdout).toBe(0);
    const alerts = (parse(readFileSync(join(DOCS, 'alerts.rules.yml'), 'utf8')).groups as { rules: { alert: string }[] }[]).flatMap((group) => group.rules.map((rule) => rule.alert));
    const tested = new Set((parse(readFileSync(join(DOCS, 'alerts.test.yml'), 'utf8')).tests as { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[])
      .flatMap((test) => test.alert_rule_test.filter((check) => check.exp_alerts.length > 0).map((check) => check.alertname)));
    expect(alerts.filter((alert) => !tested.has(alert))).toEqual([]);
  });

  it('are shown on the page exactly as in the rules file', () => {
    const page = readFileSync(join(DOCS, 'alerts.md'), 'utf8');
    const blocks = [...page.matchAll(/```yaml\n([\s\S]*?)```/g)].map((match) => match[1]!);
    const rules = readFileSync(join(DOCS, 'alerts.rules.yml'), 'utf8');
    expect(blocks).toContain(rules);
  });
});
