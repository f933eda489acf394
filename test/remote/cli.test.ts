/**
 * `rekey agent` on the command line: secrets never from arguments, usage errors, exit codes, and a
 * one-shot join and check-in (--once) against a service on loopback.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseInstant } from '../../src/domain/time.js';
import { rekey } from '../cli/support.js';
import { startService, type TestService } from './support/service.js';

describe('rekey agent', () => {
  let service: TestService;
  const dir = mkdtempSync(join(tmpdir(), 'rekey-agent-cli-'));
  const keystore = join(dir, 'FIN-01.keystore');

  beforeAll(async () => {
    service = await startService({ start: parseInstant('2026-01-01T00:00:00Z'), speed: 1, api: { tickMs: 0 } });
    await service.access.exclusive((engine) => engine.createGroup({ name: 'Finance' }));
  });
  afterAll(async () => {
    await service?.close();
  });

  it('--help names the options and where the secrets come from', () => {
    const result = rekey(['agent', '--help']);
    expect(result.status).toBe(0);
    for (const text of ['--server', '--name', '--keystore', '--once', '--rejoin', '--interval-minutes', 'REKEY_GROUP_PASSWORD', 'REKEY_MACHINE_PASSPHRASE']) expect(result.stdout).toContain(text);
    expect(result.stdout).not.toMatch(/--password\b/);
  });

  it('needs a machine passphrase from the environment or a terminal (exit 2), and takes no password option', () => {
    const noPassphrase = rekey(['agent', '--server', service.url, '--name', 'FIN-01', '--group', 'Finance', '--keystore', keystore, '--once', '--json']);
    expect(noPassphrase.status, noPassphrase.stderr).toBe(2);
    expect(JSON.parse(noPassphrase.stderr).error.code).toBe('SECRET_REQUIRED');
    const option = rekey(['agent', '--server', service.url, '--name', 'FIN-01', '--password', 'x']);
    expect(option.status).toBe(2);
    expect(option.stderr).toContain('USAGE');
  });

  it('joins and checks in once (--once), the group password read from standard input', async () => {
    // Asynchronously: the service answers from this very process.
    const child = spawn(process.execPath, ['dist/src/cli/main.js', 'agent', '--server', service.url, '--name', 'FIN-01', '--group', 'Finance', '--keystore', keystore, '--once', '--json'], {
      env: { ...process.env, REKEY_MACHINE_PASSPHRASE: 'machine secret', REKEY_GROUP_PASSWORD: '' },
    });
    child.stdin.end('Tr1cky-Passw0rd\n');
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    const status = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    const result = { status, stdout, stderr };
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const events = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as { event: string });
    expect(events.map((e) => e.event)).toEqual(['started', 'joined', 'checkedIn', 'stopped']);
    expect(events[1]).toMatchObject({ group: 'Finance', machine: 'FIN-01', first: true, keyVersion: 1 });
    expect(Object.keys(service.engine.group('Finance').members)).toEqual(['FIN-01']);
  });

  it('refuses a wrong machine passphrase (exit 1) and a key store of another machine (exit 2)', () => {
    const wrong = rekey(['agent', '--server', service.url, '--name', 'FIN-01', '--keystore', keystore, '--once'], { REKEY_MACHINE_PASSPHRASE: 'not it' });
    expect(wrong.status, wrong.stderr).toBe(1);
    expect(wrong.stderr).toMatch(/^rekey: KEYSTORE_PASSPHRASE_INCORRECT: /);
    const other = rekey(['agent', '--server', service.url, '--name', 'FIN-02', '--keystore', keystore, '--once'], { REKEY_MACHINE_PASSPHRASE: 'machine secret' });
    expect(other.status, other.stderr).toBe(2);
    expect(other.stderr).toMatch(/^rekey: KEYSTORE_MISMATCH: /);
  });

  it('says so when the service cannot be reached (exit 1), and refuses contradictory steps (exit 2)', () => {
    const unreachable = rekey(['agent', '--server', 'http://127.0.0.1:9', '--name', 'FIN-09', '--group', 'Finance', '--keystore', join(dir, 'FIN-09.keystore'), '--once'], { REKEY_MACHINE_PASSPHRASE: 'm', REKEY_GROUP_PASSWORD: 'p' });
    expect(unreachable.status, unreachable.stderr).toBe(1);
    expect(unreachable.stderr).toMatch(/^rekey: SERVER_UNREACHABLE: /);
    const both = rekey(['agent', '--server', service.url, '--name', 'FIN-01', '--rejoin', '--regenerate-password']);
    expect(both.status, both.stderr).toBe(2);
  });
});
