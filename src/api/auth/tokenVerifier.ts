/**
 * The server's view of the auth file: which token hashes are accepted, re-read whenever the file
 * changes (its size, mtime or inode), so a token created or revoked by `rekey token` counts at the
 * next request on every server that shares the store, without a restart.
 *
 * `configured` is true once the file holds any token, revoked ones included: a loopback server whose
 * tokens were all revoked stays closed rather than falling back to open access.
 */
import { statSync } from 'node:fs';
import { hashToken, looksLikeToken, readAuthFile, type TokenRecord } from './tokenRegistry.js';

export interface TokenVerifier {
  /** The file that is read (shown in error messages); '(none)' without one. */
  readonly file: string;
  /** Whether any token was ever created (the file holds at least one). */
  configured(): boolean;
  /** Tokens that are not revoked. */
  activeCount(): number;
  /** The record of a presented token: `undefined` when unknown; revoked ones are returned with their `revokedAt`. */
  lookup(token: string): TokenRecord | undefined;
}

/** The verifier of an auth file; without one (a store that is not a file), no token is ever configured. */
export function tokenVerifier(file: string | undefined): TokenVerifier {
  if (file === undefined) return { file: '(none)', configured: () => false, activeCount: () => 0, lookup: () => undefined };
  let signature = '';
  let byHash = new Map<string, TokenRecord>();
  const current = (): Map<string, TokenRecord> => {
    const stat = statSync(file, { throwIfNoEntry: false, bigint: true });
    const now = stat === undefined ? 'missing' : `${stat.ino}:${stat.size}:${stat.mtimeNs}`;
    if (now !== signature) {
      // A file that cannot be read throws (AUTH_FILE_INVALID): the server then refuses, never opens.
      byHash = new Map(readAuthFile(file).map((record) => [record.sha256, record]));
      signature = now;
    }
    return byHash;
  };
  return {
    file,
    configured: () => current().size > 0,
    activeCount: () => [...current().values()].filter((record) => record.revokedAt === null).length,
    lookup: (token) => (looksLikeToken(token) ? current().get(hashToken(token)) : undefined),
  };
}
