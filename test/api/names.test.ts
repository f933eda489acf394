/**
 * The HTTP commands check every name against the names rule in their JSON schemas (issue 18): a
 * name with a newline, an escape sequence or a bidirectional override is 400 REQUEST_INVALID naming
 * the field and the offending character by code point and position, never echoing it, and nothing
 * is recorded, so nothing of it can reach `rekey query` output. Real server, real store (the
 * healthy-fleet example simulated), the built CLI for the query.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NAME_RULE } from '../../src/domain/names.js';
import { rekey } from '../cli/support.js';
import { postJson, servedExample, type Fixture } from './support/fixtures.js';

const RAW_HOSTILE = /[\p{Cc}\p{Cf}\u2028\u2029]/u;
const secrets = { username: 'CONTOSO\\svc-names', password: 'Pl41ntext-n3ver-stored' };

let fx: Fixture;
let commands: string;

beforeAll(async () => {
  fx = await servedExample('healthy-fleet');
  commands = `${fx.url}/api/commands`;
});
afterAll(async () => {
  await fx?.close();
});

/** Posts and expects a 400 that names the field and the character, with nothing recorded. */
async function refusedName(command: string, body: Record<string, unknown>, field: string, character: string) {
  const before = await fx.store.headPosition();
  const { status, body: answer } = await postJson(`${commands}/${command}`, body);
  expect(status, JSON.stringify(answer)).toBe(400);
  expect(answer.error.code).toBe('REQUEST_INVALID');
  expect(answer.error.message).toBe(`body.${field} is not a valid name: ${character}; expected ${NAME_RULE}`);
  expect(answer.error.message).not.toMatch(RAW_HOSTILE);
  expect(await fx.store.headPosition()).toBe(before);
}

describe('names at the HTTP commands', () => {
  it('createGroup refuses a name with a newline or an escape sequence', async () => {
    await refusedName('createGroup', { name: 'Ops\nInjected' }, 'name', 'character 4 is U+000A (a control character)');
    await refusedName('createGroup', { name: 'Ops\u001b[2J' }, 'name', 'character 4 is U+001B (a control character)');
  });

  it('createConnection refuses such a connection name, and such a target name, on a group that has live keys', async () => {
    await refusedName('createConnection', { name: 'Evil\u001b]0;pwned\u0007', group: 'Finance', ...secrets }, 'name', 'character 5 is U+001B (a control character)');
    await refusedName('createConnection', { name: 'Good', group: 'Fin\u202Eance', ...secrets }, 'group', 'character 4 is U+202E (an invisible formatting character)');
    await refusedName('createConnection', { name: 'Good', machine: 'FIN-01\r', ...secrets }, 'machine', 'character 7 is U+000D (a control character)');
    // The same body with a good name is recorded: the refusals were the names'.
    const good = await postJson(`${commands}/createConnection`, { name: 'Payroll 2', group: 'Finance', ...secrets });
    expect(good.status, JSON.stringify(good.body)).toBe(200);
  });

  it('every other command that names something: fixConnection, the group settings, deleteGroup, removeMachine', async () => {
    await refusedName('fixConnection', { connection: 'Invoices\n', ...secrets }, 'connection', 'character 9 is U+000A (a control character)');
    await refusedName('setKeyValidityPeriod', { group: '\tFinance', minutes: 2_000_000 }, 'group', 'character 1 is U+0009 (a control character)');
    await refusedName('setKeyValidityPeriod', { group: 'Finance\u00a0', minutes: 2_000_000 }, 'group', 'character 8 is U+00A0 (white space), and a name must not end with white space');
    await refusedName('setKeyExpiryGracePeriod', { group: 'Finance\u0085', minutes: 64_800 }, 'group', 'character 8 is U+0085 (a control character)');
    await refusedName('setProactiveReencryption', { group: 'Finance\u2028', enabled: true }, 'group', 'character 8 is U+2028 (a line separator)');
    await refusedName('deleteGroup', { group: 'HR\u0000' }, 'group', 'character 3 is U+0000 (a control character)');
    await refusedName('removeMachine', { group: 'Finance', machine: 'FIN-03\u001b[A' }, 'machine', 'character 7 is U+001B (a control character)');
  });

  it('removeMachine removes a member (how an operator lets a machine that lost its key store join again)', async () => {
    const removed = await postJson(`${commands}/removeMachine`, { group: 'Finance', machine: 'FIN-03' });
    expect(removed.status, JSON.stringify(removed.body)).toBe(200);
    expect(removed.body.events.map((e: { type: string }) => e.type)).toEqual(['MachineLeft']);
    const again = await postJson(`${commands}/removeMachine`, { group: 'Finance', machine: 'FIN-03' });
    expect(again.status).toBe(404);
  });

  it('rekey query prints the connections without any control character', () => {
    const result = rekey(['query', 'desktopflowconnections', '--db', fx.file]);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain('Payroll 2');
    for (const line of result.stdout.split('\n')) expect(line).not.toMatch(RAW_HOSTILE);
  });
});
