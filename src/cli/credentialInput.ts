/**
 * A desktop flow connection's credentials for `connection create` and `connection fix`: from
 * `--credentials-file FILE`, else from standard input when it is not a terminal, else asked on the
 * terminal (the password without echo). Never from the command line, where every user of the
 * machine could read them in the process list. The text is the username on the first line and the
 * password on the second, or a JSON object {"username", "password"}.
 */
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import { RekeyError } from '../kernel/errors.js';
import type { Credential } from '../engine/portal.js';
import { promptHidden } from '../remote/secretInput.js';

const FORMAT = 'the username on the first line and the password on the second, or {"username": ..., "password": ...}';

export function parseCredential(text: string, source: string): Credential {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch {
      throw new RekeyError('CREDENTIALS_INVALID', `${source} starts with { but is not JSON; expected ${FORMAT}`, {}, 'validation');
    }
    const { username, password } = (parsed ?? {}) as Record<string, unknown>;
    if (typeof username !== 'string' || username === '' || typeof password !== 'string' || password === '') {
      throw new RekeyError('CREDENTIALS_INVALID', `${source} must give a non-empty "username" and "password" as strings; expected ${FORMAT}`, {}, 'validation');
    }
    return { username, password };
  }
  const lines = text.split(/\r?\n/);
  const username = lines[0]?.trim() ?? '';
  const password = lines[1] ?? '';
  if (username === '' || password === '') {
    throw new RekeyError('CREDENTIALS_INVALID', `${source} holds ${username === '' ? 'no username' : 'no password'}; expected ${FORMAT}`, {}, 'validation');
  }
  return { username, password };
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function readCredential(file: string | undefined): Promise<Credential> {
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new RekeyError('CREDENTIALS_INVALID', `--credentials-file ${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'}); expected a file with ${FORMAT}`, { file }, 'validation');
    }
    return parseCredential(text, `--credentials-file ${file}`);
  }
  if (!process.stdin.isTTY) return parseCredential(await readStdin(), 'standard input');
  const terminal = createInterface({ input: process.stdin, output: process.stderr });
  const username = (await terminal.question('username: ')).trim();
  terminal.close();
  const password = await promptHidden('password: ');
  if (username === '' || password === '') throw new RekeyError('CREDENTIALS_INVALID', `no ${username === '' ? 'username' : 'password'} typed; both are needed`, {}, 'validation');
  return { username, password };
}
