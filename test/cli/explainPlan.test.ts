/**
 * `rekey explain` and `rekey plan` on the branch-office example (three machines; LYO-02 and LYO-03
 * offline from 2030-05-01 to 2031-02-01, through the first renewal window). The expected instants are
 * worked out here by hand from the scenario and the seed's formula, never taken from rekey's output;
 * the .ics file is read back with ical.js, an independent RFC 5545 parser.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ICAL from 'ical.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, rekey } from './support.js';

const dir = mkdtempSync(join(tmpdir(), 'rekey-explain-'));
const db = join(dir, 'branch.db');
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeAll(() => {
  expect(rekey(['simulate', 'examples/branch-office-offline.json', '--db', db]).status).toBe(0);
}, 120_000);

const MINUTE = 60_000;
const iso = (ms: number) => new Date(ms).toISOString();
// The seed: Key Creation Date + (Key Validity Period - Key Grace Period), defaults 2,628,000 and 259,200.
const created = Date.parse('2026-01-01T00:00:00Z');
const renewalStart = iso(created + (2_628_000 - 259_200) * MINUTE);
const renewalEnd = iso(created + 2_628_000 * MINUTE);

describe('rekey explain', () => {
  it('a machine offline through the window: PendingNewKey by R10, with the rule chain, the window end and what would change it', () => {
    const e = json<any>(rekey(['explain', 'flowmachines', 'LYO-03', '--as-of', '2030-09-01T00:00:00Z', '--db', db, '--json']));
    expect(renewalStart).toBe('2030-07-04T00:00:00.000Z');
    expect(e).toMatchObject({ table: 'flowmachines', name: 'LYO-03', asOf: '2030-09-01T00:00:00.000Z' });
    expect(e.row.keydeliverystatus).toBe(2);
    expect(e.summary).toMatch(/^LYO-03 is PendingNewKey/);
    const chain = e.chain.map((link: any) => [link.event, link.rules]);
    expect(chain).toEqual([['MachineJoined', ['R7', 'R9']], ['MachineDisconnected', ['R21']], ['RenewalStarted', ['R3', 'R10']]]);
    expect(e.chain.at(-1).occurredAt).toBe(renewalStart);
    expect(e.chain.map((link: any) => link.position)).toEqual([...e.chain.map((link: any) => link.position)].sort((a: number, b: number) => a - b));
    expect(e.deadline).toMatchObject({ what: 'renewal window ends', at: renewalEnd });
    expect(e.deadline.formula).toContain(`Key Creation Date 2026-01-01T00:00:00.000Z + Key Validity Period 2,628,000 = ${renewalEnd}`);
    expect(e.settings).toMatchObject({ group: 'Branch-Lyon', inForce: { keyValidityPeriod: 2628000, keyExpiryGracePeriod: 259200 }, pickedUpAt: '2026-01-01T00:00:00.000Z' });
    expect(e.levers).toContainEqual({ rule: 'R12', what: expect.stringContaining(`bring LYO-03 online before ${renewalEnd}`) });
  });

  it('a group before its window: the seed formula with its own numbers, and R2/R5 levers', () => {
    const e = json<any>(rekey(['explain', 'flowmachinegroups', 'Branch-Lyon', '--as-of', '2030-01-01T00:00:00Z', '--db', db, '--json']));
    expect(e.deadline.what).toBe('renewal starts');
    expect(e.deadline.at).toBe(renewalStart);
    expect(e.deadline.formula).toBe(`Key Creation Date 2026-01-01T00:00:00.000Z + (Key Validity Period 2,628,000 - Key Grace Period 259,200) = 2026-01-01T00:00:00.000Z + 2,368,800 minutes = ${renewalStart}`);
    expect(e.deadline.window).toEqual({ start: renewalStart, end: renewalEnd });
    expect(e.chain[0]).toMatchObject({ event: 'GroupCreated', rules: ['R1', 'R2'], occurredAt: '2026-01-01T00:00:00.000Z' });
    expect(e.chain[1]).toMatchObject({ event: 'KeyIssued', rules: ['R7'] });
    // R2: the grace may go from 64,800 to 1,314,000 minutes; R3 gives the start for each bound, and a
    // start before the change is picked up (a day after it, R4) is the pickup (R5).
    const pickup = Date.parse('2030-01-02T00:00:00Z');
    expect(e.levers).toContainEqual({ rule: 'R2, R3', what: expect.stringContaining(`between ${iso(created + (2_628_000 - 64_800) * MINUTE)} and ${iso(Math.max(pickup, created + (2_628_000 - 1_314_000) * MINUTE))}`) });
    const text = rekey(['explain', 'flowmachinegroups', 'Branch-Lyon', '--as-of', '2030-01-01T00:00:00Z', '--db', db]).stdout;
    expect(text).toContain(`next deadline: renewal starts at ${renewalStart} (R3)`);
    expect(text).toContain('what would change it:');
  });

  it('a connection left unused through the window needs fixing (R15), and the lever is R18', () => {
    const e = json<any>(rekey(['explain', 'desktopflowconnections', 'Quarterly-Report', '--as-of', '2031-01-15T00:00:00Z', '--db', db, '--json']));
    const needsFix = e.chain.find((link: any) => link.event === 'ConnectionNeedsFix');
    expect(needsFix.occurredAt).toBe(renewalEnd);
    expect(e.summary).toMatch(/needs fixing/);
    expect(e.levers[0]).toMatchObject({ rule: 'R18', what: expect.stringContaining('rekey connection fix Quarterly-Report') });
  });

  it('errors: an unknown table or row exits 2; a row before it existed exits 2 with its first change', () => {
    expect(rekey(['explain', 'machines', 'LYO-03', '--db', db]).status).toBe(2);
    const unknown = rekey(['explain', 'flowmachines', 'LYO-09', '--db', db]);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/^rekey: ROW_NOT_FOUND: /);
    const early = rekey(['explain', 'flowmachines', 'LYO-03', '--as-of', '2025-01-01T00:00:00Z', '--db', db]);
    expect(early.status).toBe(2);
    expect(early.stderr).toMatch(/did not exist yet as of 2025-01-01T00:00:00.000Z; its first change is at 2026-01-03T00:00:00.000Z/);
  });
});

describe('rekey plan', () => {
  it('the checklist for the next window in order, with deadlines; as a table, --json and an .ics that ical.js reads', () => {
    const ics = join(dir, 'plan.ics');
    const plan = json<any>(rekey(['plan', '--as-of', '2030-01-01T00:00:00Z', '--ics', ics, '--db', db, '--json']));
    expect(plan.asOf).toBe('2030-01-01T00:00:00.000Z');
    const [group] = plan.groups;
    expect(group).toMatchObject({ name: 'Branch-Lyon', keyVersion: 1, window: { start: renewalStart, end: renewalEnd, underWay: false } });
    expect(group.steps.map((s: any) => s.kind)).toEqual(['bringOnline', 'runConnection', 'regeneratePassword']);
    expect(group.steps[0]).toMatchObject({ order: 1, subjects: ['LYO-01', 'LYO-02', 'LYO-03'], from: renewalStart, by: renewalEnd, rule: 'R11, R12' });
    expect(group.steps[1]).toMatchObject({ subjects: ['Quarterly-Report', 'Shipping'], by: renewalEnd, rule: 'R14' });

    const text = readFileSync(ics, 'utf8');
    expect(text.endsWith('\r\n')).toBe(true);
    expect(text.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/); // every line ends in CRLF
    for (const line of text.split('\r\n')) expect(Buffer.byteLength(line, 'utf8')).toBeLessThanOrEqual(75);
    expect(text).toMatch(/\r\n [^\r\n]/); // long lines were folded
    const calendar = new ICAL.Component(ICAL.parse(text));
    expect(calendar.getFirstPropertyValue('version')).toBe('2.0');
    const events = calendar.getAllSubcomponents('vevent').map((component: any) => ({ component, event: new ICAL.Event(component) }));
    expect(events).toHaveLength(1 + group.steps.length);
    const window = events[0]!;
    expect(window.event.summary).toBe('Branch-Lyon: certificate renewal window (key 1 to 2)');
    expect(window.event.startDate.toJSDate().toISOString()).toBe(renewalStart);
    expect(window.event.endDate.toJSDate().toISOString()).toBe(renewalEnd);
    expect(window.event.startDate.zone.tzid).toBe('UTC');
    for (const { component, event } of events) {
      expect(event.uid).toMatch(/@rekey$/);
      expect(component.getFirstPropertyValue('dtstamp').toString()).toBe('2030-01-01T00:00:00Z');
    }
    expect(new Set(events.map(({ event }) => event.uid)).size).toBe(events.length);
    const online = events.find(({ event }) => event.summary.includes('bring LYO-01, LYO-02, LYO-03 online'))!;
    expect(online.event.endDate.toJSDate().toISOString()).toBe(renewalEnd);
    expect(online.component.getFirstSubcomponent('valarm').getFirstPropertyValue('action')).toBe('DISPLAY');

    const table = rekey(['plan', '--as-of', '2030-01-01T00:00:00Z', '--db', db]).stdout;
    expect(table).toContain(`Branch-Lyon: renewal of key version 1, window ${renewalStart} .. ${renewalEnd}`);
    expect(table).toMatch(/1\s+2030-07-04T00:00:00.000Z\s+2030-12-31T00:00:00.000Z\s+R11, R12\s+bring LYO-01, LYO-02, LYO-03 online/);
  });

  it('inside the window: machines that took the new key drop out; machines that missed it must rejoin (R17)', () => {
    const during = json<any>(rekey(['plan', '--as-of', '2030-09-01T00:00:00Z', '--db', db, '--json'])).groups[0];
    expect(during.window.underWay).toBe(true);
    expect(during.steps.find((s: any) => s.kind === 'bringOnline').subjects).toEqual(['LYO-02', 'LYO-03']);
    const after = json<any>(rekey(['plan', '--as-of', '2031-01-15T00:00:00Z', '--db', db, '--json'])).groups[0];
    expect(after.window.start).toBe(iso(Date.parse('2030-07-04T00:00:00Z') + (2_628_000 - 259_200) * MINUTE));
    expect(after.steps.map((s: any) => s.kind).slice(0, 2)).toEqual(['fixConnection', 'rejoinMachine']);
    expect(after.steps[0]).toMatchObject({ subjects: ['Quarterly-Report'], rule: 'R18', by: after.window.start });
    expect(after.steps[1]).toMatchObject({ subjects: ['LYO-02', 'LYO-03'], rule: 'R17' });
    expect(rekey(['plan', '--ics', join(dir, 'no', 'such', 'dir.ics'), '--db', db]).status).toBe(2);
  });
});
