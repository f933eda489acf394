/**
 * The parts of the EventStoreDB store that need no server: deterministic event ids, the metadata
 * envelope and its decoding, and how the store fails when the server cannot be reached. The store
 * itself against a real server: eventstoredb.test.ts (with EVENTSTORE_URL).
 */
import { describe, expect, it } from 'vitest';
import { isRekeyError } from '../../src/kernel/errors.js';
import { openStore } from '../../src/cli/storeOptions.js';
import { eventHash, GENESIS_HASH, verifyChain } from '../../src/store/hashChain.js';
import { openEventStoreDb, redactConnectionString } from '../../src/store/eventstoredb.js';
import {
  decodeEntry,
  encodeMetadata,
  ENVELOPE_VERSION,
  eventIdFor,
  logStreamName,
  toChainLink,
  uuidV5,
  type LogEntry,
} from '../../src/store/eventstoredb/codec.js';
import type { EventMetadata } from '../../src/store/port.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
// A port on the loopback interface where nothing listens: connections are refused at once.
const NOWHERE = 'esdb://admin:s3cret@127.0.0.1:1?tls=false';

describe('EventStoreDB event ids', () => {
  it('are RFC 4122 version 5 UUIDs (the published example of the DNS namespace)', () => {
    expect(uuidV5('6ba7b810-9dad-11d1-80b4-00c04fd430c8', 'python.org')).toBe('886313e1-3b8a-5372-9b90-0c9aee199e5d');
  });

  it('derive deterministically from stream, command id and index, and differ in each', () => {
    const id = eventIdFor('group-1', 'cmd-1', 0);
    expect(id).toMatch(UUID);
    expect(eventIdFor('group-1', 'cmd-1', 0)).toBe(id);
    const others = [eventIdFor('group-1', 'cmd-1', 1), eventIdFor('group-1', 'cmd-2', 0), eventIdFor('group-2', 'cmd-1', 0)];
    expect(new Set([id, ...others]).size).toBe(4);
    for (const other of others) expect(other).toMatch(UUID);
  });
});

describe('EventStoreDB log envelope', () => {
  const metadata: EventMetadata = {
    occurredAt: '2031-05-06T07:08:09.000Z',
    commandId: 'cmd-xyz',
    correlationId: 'corr-xyz',
    rekey: 'a key of the caller, named like the envelope',
    actor: { kind: 'scheduler' },
  };
  const data = { thumbprint: 'AB01', n: -0.5e-7, nested: { b: 2, a: 1 } };
  const book = { stream: 'group-9', revision: 3, position: 12, recordedAt: '2030-01-01T00:00:00.000Z' };
  const hash = eventHash(GENESIS_HASH, { ...book, type: 'KeyIssued', data, metadata });
  // What the server hands back: JSON text parsed again, as the client does.
  const entry = (overrides: Partial<LogEntry> = {}): LogEntry => ({
    id: eventIdFor('group-9', 'cmd-xyz', 0),
    streamId: logStreamName('rekey-'),
    revision: 11n,
    type: 'KeyIssued',
    isJson: true,
    data: JSON.parse(JSON.stringify(data)),
    metadata: JSON.parse(JSON.stringify(encodeMetadata(metadata, { ...book, hash }))),
    ...overrides,
  });

  it('carries occurredAt, commandId and correlationId where ESDB tools see them', () => {
    const encoded = encodeMetadata(metadata, { ...book, hash });
    expect(encoded).toMatchObject({
      occurredAt: metadata.occurredAt,
      commandId: 'cmd-xyz',
      correlationId: 'corr-xyz',
      $correlationId: 'corr-xyz',
      $causationId: 'cmd-xyz',
      rekey: { v: ENVELOPE_VERSION, stream: 'group-9', revision: 3, position: 12, hash, metadata },
    });
  });

  it('decodes back to the recorded event, metadata exactly as appended, position from the log', () => {
    const decoded = decodeEntry(entry());
    expect(decoded.problem).toBeUndefined();
    expect(decoded.id).toBe(eventIdFor('group-9', 'cmd-xyz', 0));
    expect(decoded.event).toEqual({ ...book, type: 'KeyIssued', data, metadata, hash });
    expect(eventHash(GENESIS_HASH, decoded.event)).toBe(hash);
  });

  it('makes a chain link that verifies, and flags an envelope whose position is not its place in the log', async () => {
    const link = toChainLink(decodeEntry(entry()));
    expect(await verifyChain([link], { fromPosition: 12 })).toMatchObject({ ok: true, checked: 1, headHash: hash });
    const moved = decodeEntry(entry({ revision: 12n }));
    expect(moved.event.position).toBe(13);
    expect(moved.problem).toMatch(/position 13 .* records position 12/);
  });

  it("refuses other tools' events in the log with STORE_CORRUPT", () => {
    for (const foreign of [
      entry({ metadata: { $correlationId: 'x' } }),
      entry({ metadata: undefined }),
      entry({ isJson: false, data: new Uint8Array([1, 2]) }),
      entry({ metadata: { rekey: { v: 99 } } }),
      entry({ metadata: { rekey: { v: ENVELOPE_VERSION, stream: 'group-9' } } }),
    ]) {
      let error: unknown;
      try {
        decodeEntry(foreign);
      } catch (e) {
        error = e;
      }
      expect(isRekeyError(error, 'STORE_CORRUPT'), String(error)).toBe(true);
      expect((error as Error).message).toContain('rekey-log');
    }
  });
});

describe('EventStoreDB store without a server', () => {
  it('masks credentials in connection strings', () => {
    expect(redactConnectionString(NOWHERE)).toBe('esdb://***@127.0.0.1:1?tls=false');
    expect(redactConnectionString('esdb://127.0.0.1:2113?tls=false')).toBe('esdb://127.0.0.1:2113?tls=false');
  });

  it('refuses a malformed connection string with STORE_INVALID_ARGUMENT', () => {
    let error: unknown;
    try {
      openEventStoreDb({ connectionString: 'http://localhost:2113' });
    } catch (e) {
      error = e;
    }
    expect(isRekeyError(error, 'STORE_INVALID_ARGUMENT')).toBe(true);
  });

  it('fails with STORE_UNAVAILABLE naming the masked address when the server is unreachable, then STORE_CLOSED', async () => {
    const store = openEventStoreDb({ connectionString: NOWHERE });
    expect(store.logStream).toBe('rekey-log');
    for (const call of [() => store.headPosition(), () => store.readAll(), () => store.readStream('s'), () =>
      store.append('s', [{ type: 'A', data: {}, metadata: { occurredAt: '2030-01-01T00:00:00.000Z', commandId: 'c', correlationId: 'c' } }], -1)]) {
      const error = await call().then(() => undefined, (e: unknown) => e);
      expect(isRekeyError(error, 'STORE_UNAVAILABLE'), String(error)).toBe(true);
      expect((error as Error).message).toContain('esdb://***@127.0.0.1:1');
      expect((error as Error).message).not.toContain('s3cret');
    }
    // argument checks come first, as in every store
    expect(isRekeyError(await store.readAll(-1).catch((e: unknown) => e), 'STORE_INVALID_ARGUMENT')).toBe(true);
    await store.close();
    expect(isRekeyError(await store.headPosition().catch((e: unknown) => e), 'STORE_CLOSED')).toBe(true);
    await store.close();
  });

  it('the CLI opens EventStoreDB from --eventstore and reports an unreachable server at once', async () => {
    const error = await openStore({ eventstore: NOWHERE }, { mustExist: true }).then(() => undefined, (e: unknown) => e);
    expect(isRekeyError(error, 'STORE_UNAVAILABLE'), String(error)).toBe(true);
    expect((error as Error).message).not.toContain('s3cret');
  });
});
