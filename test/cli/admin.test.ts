/**
 * The operator's CLI end to end on the built binary: group, machine and connection commands on the
 * embedded store with their exit codes (0 done, 1 refused by the rules, 2 input to fix), --json,
 * credentials from a file or standard input (never an argument, never in the store), --dry-run that
 * leaves every byte of the store and its read model as it was, and `rekey serve`'s --create and busy
 * port. Rules cited: R1/R2 bounds, R4 pickup, R9 removal, R14/R18 encryption, R19 deletion.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, rekey } from './support.js';

const dir = mkdtempSync(join(tmpdir(), 'rekey-admin-'));
const pristine = join(dir, 'pristine.db');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeAll(() => {
  const made = rekey(['simulate', 'examples/branch-office-offline.json', '--db', pristine]);
  expect(made.status, made.stderr).toBe(0);
}, 120_000);

/** A fresh copy of the simulated store (its head is 2032-01-01, so commands happen then). */
function storeCopy(name: string): string {
  const file = join(dir, `${name}.db`);
  copyFileSync(pristine, file);
  return file;
}

/** SHA-256 of every file of a store: the db, its -wal/-shm, and the read model with its own. */
function hashes(db: string): Record<string, string> {
  const base = db.split('/').pop()!;
  const out: Record<string, string> = {};
  for (const file of readdirSync(dir).filter((f) => f.startsWith(base)).sort()) {
    out[file] = createHash('sha256').update(readFileSync(join(dir, file))).digest('hex');
  }
  return out;
}

describe('rekey group', () => {
  let db = '';
  beforeAll(() => {
    db = storeCopy('groups');
  });

  it('create, set and show a group; R4: the settings are recorded now and picked up 1,440 minutes later', () => {
    const created = json<any>(rekey(['group', 'create', 'Ops', '--db', db, '--json']));
    expect(created).toMatchObject({ dryRun: false, commands: [{ command: 'createGroup', name: 'Ops' }] });
    expect(created.events.map((e: any) => e.type)).toEqual(['GroupCreated']);
    expect(created.events[0].occurredAt).toBe('2032-01-01T00:00:00.000Z');

    // A longer grace with a longer validity: the validity must go first (R2 against the recorded value).
    const set = rekey(['group', 'set', 'Ops', '--validity', '2628000', '--grace', '1000000', '--db', db, '--json']);
    expect(set.status, set.stderr).toBe(0);
    expect(json<any>(set).events.map((e: any) => [e.type, e.data.minutes, e.data.pickupAt])).toEqual([
      ['KeyValidityPeriodChanged', 2628000, '2032-01-02T00:00:00.000Z'],
      ['KeyExpiryGracePeriodChanged', 1000000, '2032-01-02T00:00:00.000Z'],
    ]);

    const shown = json<any>(rekey(['group', 'show', 'Ops', '--db', db, '--json']));
    expect(shown.row).toMatchObject({ name: 'Ops', keyvalidityperiod: 2628000, keyexpirygraceperiod: 1000000, primarypublickey: null });
    expect(shown.machines).toEqual([]);
    const text = rekey(['group', 'show', 'Branch-Lyon', '--db', db]).stdout;
    expect(text).toContain('machine group Branch-Lyon as of 2032-01-01T00:00:00.000Z');
    expect(text).toMatch(/statecode\s+0 \(Active\)/);
    for (const name of ['LYO-01', 'LYO-02', 'LYO-03', 'Quarterly-Report', 'Shipping']) expect(text).toContain(name);
  });

  it('exit 1 for what the rules refuse, 2 for input to fix, and a refused pair records neither change', () => {
    const exists = rekey(['group', 'create', 'Branch-Lyon', '--db', db]);
    expect(exists.status).toBe(1);
    expect(exists.stderr).toBe('rekey: GROUP_EXISTS: machine group Branch-Lyon already exists\n');
    const below = rekey(['group', 'set', 'Branch-Lyon', '--grace', '64799', '--db', db, '--json']);
    expect(below.status).toBe(2);
    expect(JSON.parse(below.stderr)).toEqual({ error: { code: 'GRACE_OUT_OF_RANGE', message: 'keyExpiryGracePeriod 64799 is below the minimum of 64800 minutes (45 days)' } });
    const head = json<any>(rekey(['verify', '--db', db, '--json'])).checked;
    // The grace fits the new validity, the validity does not fit... R2 refuses the validity: nothing recorded.
    const pair = rekey(['group', 'set', 'Branch-Lyon', '--grace', '64800', '--validity', '100', '--db', db]);
    expect(pair.status).toBe(2);
    expect(pair.stderr).toMatch(/^rekey: VALIDITY_OUT_OF_RANGE: keyValidityPeriod 100 is below the minimum of 129600/);
    expect(json<any>(rekey(['verify', '--db', db, '--json'])).checked).toBe(head);
    expect(rekey(['group', 'set', 'Nowhere', '--grace', '64800', '--db', db]).stderr).toMatch(/^rekey: GROUP_NOT_FOUND: machine group Nowhere not found; known groups: Branch-Lyon, Ops/);
    expect(rekey(['group', 'set', 'Nowhere', '--grace', '64800', '--db', db]).status).toBe(2);
    expect(rekey(['group', 'set', 'Ops', '--grace', 'soon', '--db', db]).stderr).toMatch(/^rekey: ARGUMENT_INVALID: --grace "soon" is not an integer/);
    expect(rekey(['group', 'set', 'Ops', '--db', db]).stderr).toMatch(/^rekey: USAGE: nothing to set/);
    expect(rekey(['group', 'show', 'Nope', '--db', db]).status).toBe(2);
    const missing = rekey(['group', 'create', 'X', '--db', join(dir, 'typo.db')]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/^rekey: STORE_NOT_FOUND: store file .*typo\.db does not exist; run 'rekey group create NAME --create'/);
    expect(existsSync(join(dir, 'typo.db'))).toBe(false);
  });

  it('R19: delete needs --yes; then the group and its members are gone and its connections need fixing', () => {
    const unconfirmed = rekey(['group', 'delete', 'Branch-Lyon', '--db', db]);
    expect(unconfirmed.status).toBe(2);
    expect(unconfirmed.stderr).toMatch(/add --yes to delete it, or --dry-run/);
    const deleted = json<any>(rekey(['group', 'delete', 'Branch-Lyon', '--yes', '--db', db, '--json']));
    const types = deleted.events.map((e: any) => e.type);
    expect(types.filter((t: string) => t === 'MachineLeft')).toHaveLength(3);
    expect(types).toContain('GroupDeleted');
    expect(types.filter((t: string) => t === 'ConnectionNeedsFix')).toHaveLength(2);
    const connections = json<any>(rekey(['query', 'desktopflowconnections', '--db', db, '--select', 'name,status', '--json'])).value;
    expect(connections.map((c: any) => c.status)).toEqual(['Fix connection', 'Fix connection']);
  });

  it('group create --create starts a new store; without it a missing file is refused', () => {
    const fresh = join(dir, 'fresh.db');
    const result = rekey(['group', 'create', 'Finance', '--validity', '525600', '--grace', '129600', '--create', '--db', fresh, '--json']);
    expect(result.status, result.stderr).toBe(0);
    expect(json<any>(result).events[0]).toMatchObject({ type: 'GroupCreated', data: { name: 'Finance', keyValidityPeriod: 525600, keyExpiryGracePeriod: 129600 } });
  });
});

describe('rekey machine and rekey connection', () => {
  let db = '';
  beforeAll(() => {
    db = storeCopy('members');
  });

  it('R9: machine remove takes a machine out of its group; an unknown machine exits 2 naming the members', () => {
    const removed = json<any>(rekey(['machine', 'remove', 'LYO-02', '--db', db, '--json']));
    expect(removed.events.map((e: any) => [e.type, e.data.machine, e.data.reason])).toEqual([['MachineLeft', 'LYO-02', 'removed']]);
    const machine = json<any>(rekey(['machine', 'show', 'LYO-02', '--db', db, '--json']));
    expect(machine.row._flowmachinegroupid_value).toBeNull();
    const unknown = rekey(['machine', 'remove', 'LYO-09', '--db', db]);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toBe('rekey: MACHINE_NOT_MEMBER: machine LYO-09 is not a member of any machine group; members are: LYO-01, LYO-03\n');
    const asOf = json<any>(rekey(['machine', 'show', 'LYO-03', '--as-of', '2030-09-01T00:00:00Z', '--db', db, '--json']));
    expect(asOf.row).toMatchObject({ name: 'LYO-03', keydeliverystatus: 2 });
    expect(asOf.groups.map((g: any) => g.name)).toEqual(['Branch-Lyon']);
  });

  it('R14, R18: connection create and fix read the credentials from a file or stdin and encrypt them to the live key; they never reach the store', () => {
    const secret = 'Sup3r-secret-pw!';
    const file = join(dir, 'payroll.cred');
    writeFileSync(file, `CONTOSO\\svc-payroll\n${secret}\n`);
    const created = json<any>(rekey(['connection', 'create', 'Payroll', '--group', 'Branch-Lyon', '--credentials-file', file, '--db', db, '--json']));
    expect(created.events).toEqual([expect.objectContaining({ type: 'ConnectionCreated', data: expect.objectContaining({ name: 'Payroll', ciphertexts: '(1 ciphertext, omitted)' }) })]);
    const fixed = rekey(['connection', 'fix', 'Payroll', '--db', db, '--json'], {}, JSON.stringify({ username: 'CONTOSO\\svc-payroll', password: secret }));
    expect(fixed.status, fixed.stderr).toBe(0);
    expect(json<any>(fixed).events.map((e: any) => e.type)).toEqual(['ConnectionFixed']);
    const shown = json<any>(rekey(['connection', 'show', 'Payroll', '--db', db, '--json']));
    expect(shown.row).toMatchObject({ status: 'Connected', targettype: 'group', targetname: 'Branch-Lyon' });
    expect(shown.row.keythumbprints).toMatch(/^[0-9A-F]{64}$/); // one live key, outside a renewal
    for (const name of readdirSync(dir).filter((f) => f.startsWith('members.db'))) {
      expect(readFileSync(join(dir, name)).includes(Buffer.from(secret)), name).toBe(false);
    }
    const noPassword = rekey(['connection', 'create', 'Other', '--group', 'Branch-Lyon', '--db', db], {}, 'only-a-username\n');
    expect(noPassword.status).toBe(2);
    expect(noPassword.stderr).toMatch(/^rekey: CREDENTIALS_INVALID: standard input holds no password/);
    expect(rekey(['connection', 'create', 'Other', '--db', db, '--credentials-file', file]).stderr).toMatch(/exactly one of a machine group \(--group NAME\) or one machine/);
    expect(rekey(['connection', 'fix', 'Nope', '--db', db, '--credentials-file', file]).status).toBe(2);
    // There is no option that takes a password.
    expect(rekey(['connection', 'create', 'Other', '--group', 'Branch-Lyon', '--password', secret, '--db', db]).stderr).toMatch(/^rekey: USAGE: unknown option '--password'/);
  });

  it('connection run: a store opened directly has no machine to decrypt on (exit 2 pointing to --server); --dry-run shows the run', () => {
    const direct = rekey(['connection', 'run', 'Shipping', '--db', db]);
    expect(direct.status).toBe(2);
    expect(direct.stderr).toMatch(/^rekey: RUN_NEEDS_SERVICE: .*--server URL/);
    const dry = json<any>(rekey(['connection', 'run', 'Shipping', '--dry-run', '--no-forecast', '--db', db, '--json']));
    expect(dry.events).toEqual([expect.objectContaining({ type: 'ConnectionRun', data: expect.objectContaining({ machine: 'LYO-01' }) })]);
    expect(dry.changes).toEqual([expect.objectContaining({ table: 'desktopflowconnections', name: 'Shipping', changedColumns: ['lastuseddate'] })]);
  });
});

describe('--dry-run', () => {
  let db = '';
  beforeAll(() => {
    db = storeCopy('dry');
  });

  it('writes nothing: the store, its WAL and the read model are byte-identical after dry runs of every admin command', () => {
    expect(rekey(['query', 'flowmachines', '--db', db]).status).toBe(0); // makes the read model file
    const before = hashes(db);
    expect(Object.keys(before)).toEqual(expect.arrayContaining(['dry.db', 'dry.db.read.db']));
    const runs = [
      ['group', 'create', 'Ops'],
      ['group', 'set', 'Branch-Lyon', '--grace', '64800', '--validity', '525600'],
      ['group', 'set', 'Branch-Lyon', '--proactive-reencryption', 'on'],
      ['group', 'delete', 'Branch-Lyon'],
      ['machine', 'remove', 'LYO-01'],
      ['connection', 'create', 'New', '--group', 'Branch-Lyon'],
      ['connection', 'fix', 'Shipping'],
      ['connection', 'run', 'Quarterly-Report'],
    ];
    for (const args of runs) {
      const result = rekey([...args, '--dry-run', '--no-forecast', '--db', db, '--json']);
      expect(result.status, `${args.join(' ')}: ${result.stderr}`).toBe(0);
      expect(json<any>(result).dryRun).toBe(true);
    }
    expect(hashes(db)).toEqual(before);
  }, 120_000);

  it('prints the events it would append, the rows that would change and the forecast before and after (R5: a shorter validity starts a renewal at pickup)', () => {
    const report = json<any>(rekey(['group', 'set', 'Branch-Lyon', '--grace', '64800', '--validity', '129600', '--dry-run', '--db', db, '--json']));
    expect(report.at).toBe('2032-01-01T00:00:00.000Z');
    expect(report.events.map((e: any) => e.type)).toEqual(['KeyExpiryGracePeriodChanged', 'KeyValidityPeriodChanged']);
    const group = report.changes.find((c: any) => c.table === 'flowmachinegroups');
    expect(group.before).toMatchObject({ keyvalidityperiod: 2628000, keyexpirygraceperiod: 259200, rekey_nextrenewaldate: '2035-01-04T00:00:00.000Z' });
    // Picked up a day later (R4); the key is older than the new validity, so the renewal starts then (R5).
    expect(group.after).toMatchObject({ keyvalidityperiod: 129600, keyexpirygraceperiod: 64800, rekey_nextrenewaldate: '2032-01-02T00:00:00.000Z' });
    const start = report.forecast.differences.find((d: any) => d.group === 'Branch-Lyon' && d.field === 'renewalStart');
    expect(start).toEqual({ group: 'Branch-Lyon', field: 'renewalStart', baseline: '2035-01-04T00:00:00.000Z', whatif: '2032-01-02T00:00:00.000Z' });
    expect(report.forecast.after[0].connectionsToFix).toEqual(['Quarterly-Report', 'Shipping']);

    const text = rekey(['group', 'set', 'Branch-Lyon', '--grace', '64800', '--dry-run', '--db', db]).stdout;
    expect(text).toMatch(/^dry run on .*dry\.db at 2032-01-01T00:00:00\.000Z: nothing was written/);
    expect(text).toContain('KeyExpiryGracePeriodChanged');
    expect(text).toMatch(/keyexpirygraceperiod\s+259200\s+64800/);
    expect(text).toContain('forecast of the next renewal windows, now and after:');
  }, 120_000);

  it('a dry run the rules refuse exits as the command would, with its refusal', () => {
    const refused = rekey(['machine', 'remove', 'LYO-09', '--dry-run', '--db', db]);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/^rekey: MACHINE_NOT_MEMBER: /);
    expect(rekey(['group', 'create', 'Branch-Lyon', '--dry-run', '--db', db]).status).toBe(1);
  });
});

describe('rekey serve --create and a busy port', () => {
  it('refuses a missing --db file unless --create (exit 2), and names a busy port with what to do', async () => {
    const typo = join(dir, 'no-such.db');
    const refused = rekey(['serve', '--db', typo, '--port', '0']);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/^rekey: STORE_NOT_FOUND: store file .*no-such\.db does not exist; add --create to start a new store there/);
    expect(existsSync(typo)).toBe(false);

    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const busy = rekey(['serve', '--db', pristine, '--port', String(port)]);
      expect(busy.status).toBe(2);
      expect(busy.stderr).toBe(`rekey: PORT_IN_USE: port ${port} on 127.0.0.1 is already in use (another rekey serve, or another program); choose a free port with --port N or PORT=N (0 picks any free port)\n`);
      const viaEnv = rekey(['serve', '--db', pristine], { PORT: String(port) });
      expect(viaEnv.stderr).toContain(`port ${port} on 127.0.0.1 is already in use`);
    } finally {
      blocker.close();
    }
  }, 60_000);
});
