/**
 * The admin API's bearer tokens, kept in one JSON file beside the store (`<db>.auth.json` by default;
 * `--auth-file` or REKEY_AUTH_FILE to change). Several servers on one store read the same file, so a
 * token created or revoked by `rekey token` counts on every one of them at their next request.
 *
 * - A token is `rekey_` and 43 base64url characters (256 random bits). Only its SHA-256 is kept: with
 *   that much entropy a hash cannot be turned back into the token, and no salt or slow hash is needed.
 *   The token itself is shown once, by `create`, and never again.
 * - Each token has a public id (`tk_` and 12 hex characters, random, unrelated to the token): the id is
 *   what commands record as their actor in the event log, what `list` shows and what `revoke` takes.
 * - Writes take a lock file (O_EXCL) and replace the file atomically (write, fsync, rename), mode 0600,
 *   so two `rekey token` runs never lose each other's change and a reader never sees half a file.
 * - Revoked tokens stay in the file (with `revokedAt`) so that actor ids in the log keep their names.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { RekeyError, errorKind } from '../../kernel/errors.js';

export const ROLES = ['admin', 'reader'] as const;
export type Role = (typeof ROLES)[number];

/** The auth file cannot be read or is not an auth file (HTTP 500, exit 1: the server fails closed). */
export const AUTH_FILE_INVALID = errorKind('AUTH_FILE_INVALID', 'integrity');
/** `rekey token revoke` named an id the file does not hold. */
export const TOKEN_NOT_FOUND = errorKind('TOKEN_NOT_FOUND', 'not_found');
/** Another `rekey token` run holds the lock for too long. */
export const AUTH_FILE_LOCKED = errorKind('AUTH_FILE_LOCKED', 'conflict');

export interface TokenRecord {
  readonly id: string;
  readonly name: string;
  readonly role: Role;
  /** Hex SHA-256 of the token. */
  readonly sha256: string;
  readonly createdAt: string;
  readonly revokedAt: string | null;
}

/** What `list` shows: everything but the hash. */
export type TokenInfo = Omit<TokenRecord, 'sha256'>;

interface AuthFile {
  readonly version: 1;
  readonly tokens: TokenRecord[];
}

const TOKEN_PREFIX = 'rekey_';
const TOKEN_PATTERN = /^rekey_[A-Za-z0-9_-]{43}$/;
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9 ._@-]{0,63}$/;

export const hashToken = (token: string): string => createHash('sha256').update(token, 'utf8').digest('hex');

/** Whether a string has the shape of a rekey token (a cheap check before hashing). */
export const looksLikeToken = (text: string): boolean => TOKEN_PATTERN.test(text);

export const describeToken = ({ sha256: _hash, ...info }: TokenRecord): TokenInfo => info;

function parse(file: string, text: string): AuthFile {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new RekeyError(AUTH_FILE_INVALID, `auth file ${file} is not JSON (${(error as Error).message}); restore it from a backup or delete it and create new tokens`, { file });
  }
  const tokens = (value as { tokens?: unknown }).tokens;
  const valid = (value as { version?: unknown }).version === 1 && Array.isArray(tokens) && tokens.every((t: Partial<TokenRecord>) =>
    typeof t?.id === 'string' && typeof t.name === 'string' && (ROLES as readonly unknown[]).includes(t.role) &&
    typeof t.sha256 === 'string' && /^[0-9a-f]{64}$/.test(t.sha256) && typeof t.createdAt === 'string' && (t.revokedAt === null || typeof t.revokedAt === 'string'));
  if (!valid) {
    throw new RekeyError(AUTH_FILE_INVALID, `auth file ${file} is not a rekey auth file: expected {"version": 1, "tokens": [{id, name, role (admin or reader), sha256, createdAt, revokedAt}]}`, { file });
  }
  return value as AuthFile;
}

/** The file's tokens, none when it does not exist. */
export function readAuthFile(file: string): TokenRecord[] {
  if (!existsSync(file)) return [];
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new RekeyError(AUTH_FILE_INVALID, `auth file ${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, { file });
  }
  return parse(file, text).tokens;
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Runs a read-modify-write of the file under its lock. */
function update<T>(file: string, change: (tokens: TokenRecord[]) => { tokens: TokenRecord[]; result: T }): T {
  const lock = `${file}.lock`;
  let fd: number | null = null;
  for (let attempt = 0; fd === null; attempt++) {
    try {
      fd = openSync(lock, 'wx', 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      // A lock left by a killed run is stale after 10 s: nobody holds it that long.
      if (Date.now() - statSync(lock, { throwIfNoEntry: false })!.mtimeMs > 10_000) rmSync(lock, { force: true });
      else if (attempt >= 200) throw new RekeyError(AUTH_FILE_LOCKED, `auth file ${file} stays locked by ${lock}; wait for the other 'rekey token' run, or delete the lock file if none is running`, { file });
      else sleep(25);
    }
  }
  try {
    const { tokens, result } = change(readAuthFile(file));
    const temporary = `${file}.${process.pid}.tmp`;
    const out = openSync(temporary, 'w', 0o600);
    try {
      writeSync(out, `${JSON.stringify({ version: 1, tokens } satisfies AuthFile, null, 2)}\n`);
      fsyncSync(out);
    } finally {
      closeSync(out);
    }
    renameSync(temporary, file);
    return result;
  } finally {
    closeSync(fd);
    rmSync(lock, { force: true });
  }
}

export interface CreatedToken {
  /** The token itself: shown once, stored nowhere. */
  readonly token: string;
  readonly info: TokenInfo;
}

export function createToken(file: string, input: { role: string; name?: string; now: Date; random?: (bytes: number) => Buffer }): CreatedToken {
  if (!(ROLES as readonly string[]).includes(input.role)) {
    throw new RekeyError('ARGUMENT_INVALID', `--role ${JSON.stringify(input.role.slice(0, 40))} is not a role; the roles are: admin (commands and webhooks, and everything a reader may), reader (tables, history, change feed, metrics)`, { role: input.role.slice(0, 40) }, 'validation');
  }
  const random = input.random ?? randomBytes;
  const name = input.name ?? input.role;
  if (!NAME_PATTERN.test(name)) {
    throw new RekeyError('ARGUMENT_INVALID', `--name ${JSON.stringify(name.slice(0, 80))} is not a token name: 1 to 64 letters, digits, spaces and . _ @ -, starting with a letter or digit`, {}, 'validation');
  }
  const token = `${TOKEN_PREFIX}${random(32).toString('base64url')}`;
  const record: TokenRecord = { id: `tk_${random(6).toString('hex')}`, name, role: input.role as Role, sha256: hashToken(token), createdAt: input.now.toISOString(), revokedAt: null };
  return update(file, (tokens) => ({ tokens: [...tokens, record], result: { token, info: describeToken(record) } }));
}

export function revokeToken(file: string, id: string, now: Date): TokenInfo {
  return update(file, (tokens) => {
    const found = tokens.find((token) => token.id === id);
    if (!found) {
      const known = tokens.map((token) => token.id).join(', ') || 'none';
      throw new RekeyError(TOKEN_NOT_FOUND, `no token has the id ${JSON.stringify(id.slice(0, 40))} in ${file}; the ids are: ${known} ('rekey token list' shows them)`, { id: id.slice(0, 40) }, 'not_found');
    }
    const revoked: TokenRecord = { ...found, revokedAt: found.revokedAt ?? now.toISOString() };
    return { tokens: tokens.map((token) => (token === found ? revoked : token)), result: describeToken(revoked) };
  });
}

export function listTokens(file: string): TokenInfo[] {
  return readAuthFile(file).map(describeToken);
}
