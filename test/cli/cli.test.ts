/**
 * The command-line contract of docs/contract.md (section 4), end to end on the built binary: simulate an
 * example into a temporary store, then query, time travel, history, events, readiness, replay,
 * watch and verify, and the error paths with their exit codes and messages.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { json, rekey } from './support.js';

const dir = mkdtempSync(join(tmpdir(), 'rekey-cli-'));
const db = join(dir, 'branch.db');

describe('rekey on the branch-office example', () => {
  let simulated: Record<string, any>;
  beforeAll(() => {
    const result = rekey(['simulate', 'examples/branch-office-offline.json', '--db', db, '--json']);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    simulated = json(result);
  }, 120_000);

  it('simulate --json prints seed, events, rejected, stateHash and summary', () => {
    expect(simulated.seed).toBe(7);
    expect(simulated.events).toBeGreaterThan(300);
    expect(simulated.stateHash).toMatch(/^[0-9a-f]{64}$/);
    expect(simulated.rejected).toEqual([expect.objectContaining({ command: 'rejoin', target: 'LYO-02', code: 'GROUP_PASSWORD_STALE', at: '2031-02-02T00:00:00.000Z' })]);
    expect(simulated.rejected[0].message).toMatch(/^password is incorrect/);
    expect(simulated.summary.groups[0]).toMatchObject({ name: 'Branch-Lyon', state: 'Active', keyVersion: 2 });
  });

  it('the same scenario and seed give the same stateHash in another store; --seed changes the seed', () => {
    const again = json(rekey(['simulate', 'examples/branch-office-offline.json', '--db', join(dir, 'again.db'), '--json']));
    expect(again.stateHash).toBe(simulated.stateHash);
    const reseeded = json(rekey(['simulate', 'examples/branch-office-offline.json', '--db', join(dir, 'seeded.db'), '--seed', '99', '--json']));
    expect(reseeded.seed).toBe(99);
  });

  it('simulate refuses a store that already holds events (exit 2)', () => {
    const result = rekey(['simulate', 'examples/branch-office-offline.json', '--db', db]);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^rekey: STORE_NOT_EMPTY: /);
  });

  it('query filters with OData and prints the Web API shape', () => {
    const result = json<any>(rekey(['query', 'flowmachines', '--db', db, '--filter', "startswith(name,'LYO') and keydeliverystatus eq 1", '--select', 'name,keydeliverystatus', '--orderby', 'name desc', '--count', '--json']));
    expect(result['@odata.context']).toBe('$metadata#flowmachines');
    expect(result['@odata.count']).toBe(3);
    expect(result.value.map((row: any) => row.name)).toEqual(['LYO-03', 'LYO-02', 'LYO-01']);
    expect(result.value[0]['keydeliverystatus@OData.Community.Display.V1.FormattedValue']).toBe('Default');
  });

  it('query --as-of shows the tables as they were during the renewal window (R10, R22)', () => {
    const machines = json<any>(rekey(['query', 'flowmachines', '--db', db, '--as-of', '2030-09-01T00:00:00Z', '--filter', 'keydeliverystatus eq 2', '--select', 'name', '--json']));
    expect(machines.value.map((row: any) => row.name)).toEqual(['LYO-02', 'LYO-03']);
    const groups = json<any>(rekey(['query', 'flowmachinegroups', '--db', db, '--as-of', '2030-09-01T00:00:00Z', '--json']));
    expect(groups.value[0]).toMatchObject({ name: 'Branch-Lyon', rekey_renewalstate: 'Renewing', rekey_renewalendsat: '2030-12-31T00:00:00.000Z' });
    expect(groups.value[0].secondarypublickey).not.toBeNull();
  });

  it('query without --json prints an aligned table with formatted values', () => {
    const result = rekey(['query', 'flowmachines', '--db', db, '--select', 'name,keydeliverystatus']);
    expect(result.status).toBe(0);
    expect(result.stdout.split('\n').slice(0, 3)).toEqual(['name    keydeliverystatus', '------  -----------------', 'LYO-01  Default']);
  });

  it('history lists every change of one row in log order', () => {
    const history = json<any>(rekey(['history', 'flowmachines', 'LYO-03', '--db', db, '--json']));
    expect(history).toMatchObject({ table: 'flowmachines', name: 'LYO-03' });
    const events = history.changes.map((change: any) => change.event);
    expect(events[0]).toBe('MachineJoined');
    expect(events).toContain('MachineKeyExpired');
    // The rejoin, then the session's end with the simulation's end (R21: no check-in at end).
    expect(events.slice(-2)).toEqual(['MachineRejoined', 'MachineDisconnected']);
    expect(history.changes.at(-1).occurredAt).toBe('2032-01-01T00:00:00.000Z');
    const positions = history.changes.map((change: any) => change.position);
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
    expect(history.changes.find((c: any) => c.event === 'MachineKeyExpired').row).toMatchObject({ keydeliverystatus: 3, statecode: 2, statuscode: 11 });
  });

  it('events --json prints one event per line; --until stops at an instant', () => {
    const lines = rekey(['events', '--db', db, '--json', '--until', '2026-01-01T00:00:00Z']).stdout.trim().split('\n').map((line) => JSON.parse(line));
    expect(lines[0]).toMatchObject({ position: 1, type: 'SimulationStarted' });
    expect(lines.every((event) => event.occurredAt <= '2026-01-01T00:00:00.000Z')).toBe(true);
    expect(lines.map((event) => event.type)).toContain('KeyIssued');
  });

  it('readiness reports the window and who must come online (as of a day in the window)', () => {
    const report = json<any>(rekey(['readiness', '--db', db, '--as-of', '2030-09-01T00:00:00Z', '--json']));
    expect(report.groups[0]).toMatchObject({ name: 'Branch-Lyon', verdict: 'at risk', renewing: true, pendingNewKey: ['LYO-02', 'LYO-03'], notSeenSinceWindowOpened: ['LYO-02', 'LYO-03'], renewalEnd: '2030-12-31T00:00:00.000Z' });
    const after = json<any>(rekey(['readiness', '--db', db, '--json']));
    expect(after.groups[0].verdict).toBe('OK');
  });

  it('replay rebuilds the tables, which then answer as before', () => {
    const before = rekey(['query', 'flowmachines', '--db', db, '--json']).stdout;
    const replay = json<any>(rekey(['replay', '--db', db, '--json']));
    expect(replay.events).toBe(simulated.events);
    expect(rekey(['query', 'flowmachines', '--db', db, '--json']).stdout).toBe(before);
  });

  it('verify recomputes the hash chain', () => {
    const result = json<any>(rekey(['verify', '--db', db, '--json']));
    expect(result).toMatchObject({ ok: true, checked: simulated.events });
    expect(rekey(['verify', '--db', db, '--expect-head', result.headHash]).status).toBe(0);
  });

  it('watch --from-position 1 --once prints the changes of one table and stops', () => {
    const result = rekey(['watch', 'flowmachines', '--db', db, '--from-position', '1', '--once', '--change', 'update', '--columns', 'keydeliverystatus', '--filter', 'keydeliverystatus eq 3', '--json']);
    expect(result.status).toBe(0);
    const changes = result.stdout.trim().split('\n').map((line) => JSON.parse(line));
    expect(changes.map((change) => change.row.name).sort()).toEqual(['LYO-02', 'LYO-03']);
    expect(changes.every((change) => change.changeType === 'Update' && change.changedColumns.includes('keydeliverystatus'))).toBe(true);
  });
});

describe('rekey error paths', () => {
  const db2 = join(dir, 'errors.db');
  beforeAll(() => {
    expect(rekey(['simulate', 'examples/empty-group.json', '--db', db2]).status).toBe(0);
  }, 120_000);

  it('an unknown table exits 2 naming the tables', () => {
    const result = rekey(['query', 'machines', '--db', db2]);
    expect(result.status).toBe(2);
    expect(result.stderr).toBe('rekey: TABLE_UNKNOWN: unknown table "machines"; the tables are: flowmachinegroups, flowmachines, desktopflowconnections\n');
  });

  it('a bad filter exits 2 with the character position', () => {
    const result = rekey(['query', 'flowmachines', '--db', db2, '--filter', "name eq 'x' and"]);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^rekey: ODATA_SYNTAX: \$filter: .*position 16, found end of input/);
  });

  it('an unknown column exits 2 naming it and the columns', () => {
    const result = rekey(['query', 'flowmachines', '--db', db2, '--select', 'name,colour']);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^rekey: ODATA_UNKNOWN_COLUMN: unknown column 'colour'.*agentversion/);
  });

  it('a bad instant exits 2 naming the option and the value', () => {
    const result = rekey(['query', 'flowmachines', '--db', db2, '--as-of', '2030-02-30']);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^rekey: ARGUMENT_INVALID: --as-of "2030-02-30" is not an ISO-8601 instant/);
  });

  it('a missing store file exits 2 (a mistyped path) and says how to make one', () => {
    const result = rekey(['query', 'flowmachines', '--db', join(dir, 'nope.db')]);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^rekey: STORE_NOT_FOUND: store file .*nope\.db does not exist; run 'rekey simulate/);
  });

  it('with --json errors go to stderr as {"error": {code, message}} and stdout stays empty', () => {
    const result = rekey(['query', 'nope', '--db', db2, '--json']);
    expect(result.status).toBe(2);
    expect(result.stdout).toBe('');
    expect(JSON.parse(result.stderr)).toEqual({ error: { code: 'TABLE_UNKNOWN', message: expect.stringContaining('unknown table') } });
  });

  it('an invalid scenario exits 2 listing every problem with its JSON path', () => {
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ start: '2026-01-01T00:00:00Z', end: 'tomorrow', groups: [], machines: [{ name: 'X', agentVersion: 'v2' }] }));
    const result = rekey(['simulate', file, '--db', join(dir, 'bad.db')]);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^rekey: SCENARIO_INVALID: /);
    expect(result.stderr).toContain('end');
    expect(result.stderr).toContain('machines[0].agentVersion');
  });

  it('an unknown command or option exits 2 with a usage hint', () => {
    const unknownCommand = rekey(['frobnicate']);
    expect(unknownCommand.status).toBe(2);
    expect(unknownCommand.stderr).toMatch(/^rekey: USAGE: .*rekey --help/);
    expect(rekey(['query', 'flowmachines', '--db', db2, '--colour']).status).toBe(2);
    expect(rekey(['query', 'flowmachines', '--db', db2, '--top', '-3']).stderr).toMatch(/--top "-3" is not an integer from 1 to 1000000/);
  });

  it('--help explains every command with examples', () => {
    const help = rekey(['--help']);
    expect(help.status).toBe(0);
    for (const command of ['simulate', 'query', 'history', 'events', 'replay', 'watch', 'readiness', 'verify']) expect(help.stdout).toContain(command);
    expect(rekey(['query', '--help']).stdout).toContain('Examples:');
  });

  it('R16, R19: the empty group example expires (statecode 1, statuscode 4), then its deletion removes the row', () => {
    const groups = json<any>(rekey(['query', 'flowmachinegroups', '--db', db2, '--json']));
    expect(groups.value).toEqual([]);
    const history = json<any>(rekey(['history', 'flowmachinegroups', 'Lab', '--db', db2, '--json']));
    expect(history.changes.map((c: any) => c.event)).toContain('GroupKeyExpired');
    expect(history.changes.find((c: any) => c.event === 'GroupKeyExpired').row).toMatchObject({ statecode: 1, statuscode: 4, rekey_renewalstate: 'Expired' });
  });
});
