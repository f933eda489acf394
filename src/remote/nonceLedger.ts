/**
 * Which request nonces the machine API has seen, by the key that signed them. A signed request is
 * accepted once: its nonce is spent under its signer's key thumbprint, and the same nonce under the
 * same key is a replay until the request's timestamp has left the window (after that the request is
 * refused as stale anyway).
 *
 * Beside a SQLite event store the ledger is a SQLite file of its own, `<events file>.nonces.db`,
 * which every `rekey serve` on that store shares: SQLite's primary key decides which server saw a
 * nonce first, so a request captured on one server is refused by every other. Nonces are not part
 * of the audit trail (they prove nothing a month later), so they stay out of the event log, whose
 * hash chain and write lock they would only burden. With any other store (memory, EventStoreDB) the
 * ledger is in the process's memory: one server per store, or replays across servers are possible.
 */
import Database from 'better-sqlite3';
import type { EventStore } from '../store/port.js';

export interface NonceLedger {
  /** Where the nonces are kept: a file, or 'memory'. */
  readonly location: string;
  /**
   * Spends `nonce` for `identity` (a signing key's thumbprint), to be remembered until
   * `expiresAt` (wall-clock ms): true the first time, false when it was spent before (a replay).
   */
  spend(identity: string, nonce: string, expiresAt: number): boolean;
  close(): void;
}

/** How often (wall ms) spent nonces whose requests can no longer be fresh are forgotten. */
const PURGE_EVERY_MS = 10_000;

/** The ledger for a store: a shared file beside a SQLite store, memory otherwise. */
export function nonceLedgerFor(store: EventStore, now: () => number): NonceLedger {
  const file = (store as { file?: unknown }).file;
  return store.kind === 'sqlite' && typeof file === 'string' ? sqliteNonceLedger(`${file}.nonces.db`, now) : memoryNonceLedger(now);
}

export function memoryNonceLedger(now: () => number): NonceLedger {
  const byIdentity = new Map<string, Map<string, number>>();
  let lastPurge = now();
  return {
    location: 'memory',
    spend(identity, nonce, expiresAt) {
      const at = now();
      if (at - lastPurge >= PURGE_EVERY_MS) {
        lastPurge = at;
        for (const [key, nonces] of byIdentity) {
          for (const [spent, until] of nonces) if (until < at) nonces.delete(spent);
          if (nonces.size === 0) byIdentity.delete(key);
        }
      }
      let nonces = byIdentity.get(identity);
      if (!nonces) byIdentity.set(identity, (nonces = new Map()));
      if (nonces.has(nonce)) return false;
      nonces.set(nonce, expiresAt);
      return true;
    },
    close() {
      byIdentity.clear();
    },
  };
}

export function sqliteNonceLedger(file: string, now: () => number): NonceLedger {
  const db = new Database(file, { timeout: 10_000 });
  try {
    db.pragma('journal_mode = WAL');
    // A crash of the process never loses a commit in WAL mode; only an OS crash could forget the
    // last nonces, and a replay then still needs a request captured within the last few minutes.
    db.pragma('synchronous = NORMAL');
    db.exec(`
      CREATE TABLE IF NOT EXISTS rekey_nonces (
        identity   TEXT NOT NULL,
        nonce      TEXT NOT NULL,
        expires_at INTEGER NOT NULL,
        PRIMARY KEY (identity, nonce)
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS rekey_nonces_expiry ON rekey_nonces (expires_at);
    `);
  } catch (error) {
    db.close();
    throw error;
  }
  const insert = db.prepare<[string, string, number]>('INSERT INTO rekey_nonces (identity, nonce, expires_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING');
  const purge = db.prepare<[number]>('DELETE FROM rekey_nonces WHERE expires_at < ?');
  let lastPurge = 0;
  return {
    location: file,
    spend(identity, nonce, expiresAt) {
      const at = now();
      if (at - lastPurge >= PURGE_EVERY_MS) {
        lastPurge = at;
        purge.run(at);
      }
      return insert.run(identity, nonce, Math.round(expiresAt)).changes === 1;
    },
    close() {
      if (db.open) db.close();
    },
  };
}
