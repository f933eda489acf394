/**
 * A private, in-memory copy of a store in which simulated machines can go on renewing keys.
 *
 * The machines' private keys never reach the log (docs/model.md, Events): after `rekey simulate` they
 * are gone with the process, and an imported group's were never in rekey at all. So the copy gives
 * every key that is live at the head of the log a stand-in: a fresh, real RSA-2048 key pair with a
 * certificate for the same dates. While the log is copied, every mention of the observed key is
 * rewritten to its stand-in (thumbprints, certificates, the new key of a renewal wrapped under the
 * previous one, password packages, connections' ciphertexts of a placeholder credential), and each
 * machine starts out holding the stand-ins of the keys the log says it holds. A forecast built on it
 * is about timing and about who misses a renewal, never about decrypting real credentials. Nothing
 * of the copy is ever written back as it is (see continuation.ts for what scenario `from` writes).
 */
import { randomBytes, type KeyObject } from 'node:crypto';
import {
  createGroupCertificate,
  createPasswordPackage,
  encryptCredential,
  wrapPrivateKey,
  MIN_PKCS12_ITERATIONS,
  type Envelope,
  type KeyPair,
  type KeyPairSource,
} from '../crypto/index.js';
import type { ImportedKeyFacts } from '../domain/events.js';
import { liveKeys, type GroupKey } from '../domain/group/state.js';
import { toIso, type Instant } from '../domain/time.js';
import { Fleet } from '../engine/fleet.js';
import type { HeldKeyMaterial } from '../simulation/simulator.js';
import { createInMemoryEventStore, type InMemoryEventStore } from '../store/memory.js';
import type { EventStore, NewEvent, RecordedEvent } from '../store/port.js';
import { readWholeLog } from '../store/logPages.js';

/** The credential every stand-in ciphertext holds: the real one is unknown and stays so. */
export const PLACEHOLDER_CREDENTIAL = { username: 'rekey-stand-in', password: 'placeholder: the real credential is not known to rekey' };

export interface StandIn {
  /** Thumbprint of the observed key it stands in for. */
  readonly observed: string;
  readonly thumbprint: string;
  readonly certificatePem: string;
  readonly privateKey: KeyObject;
}

/**
 * Stand-ins by observed thumbprint, so that two copies of the same log (a what-if and its
 * baseline) use the same ones.
 */
export class StandInCache {
  private readonly byObserved = new Map<string, Promise<StandIn>>();
  constructor(private readonly keys: KeyPairSource) {}

  get(observed: string, subject: string, version: number, notBefore: Instant, notAfter: Instant): Promise<StandIn> {
    let found = this.byObserved.get(observed);
    if (!found) {
      found = this.keys.next().then((keyPair: KeyPair) => {
        const from = Math.floor(notBefore / 1000) * 1000;
        const to = Math.max(from + 1000, Math.floor(notAfter / 1000) * 1000);
        const certificate = createGroupCertificate({ keyPair, groupName: subject, version, notBefore: toIso(from), notAfter: toIso(to) });
        return { observed, thumbprint: certificate.thumbprint, certificatePem: certificate.pem, privateKey: keyPair.privateKey };
      });
      this.byObserved.set(observed, found);
    }
    return found;
  }
}

export interface StandInWorld {
  readonly store: InMemoryEventStore;
  /** The latest occurredAt of the copied log (null for an empty one). */
  readonly head: Instant | null;
  /** The machines' ids and the stand-in keys they hold at the head, by machine name. */
  readonly machines: ReadonlyMap<string, { readonly machineId: string; readonly keys: readonly HeldKeyMaterial[] }>;
  /** Observed thumbprint by stand-in thumbprint (continuation.ts maps events back with it). */
  readonly observedOf: ReadonlyMap<string, string>;
  /** The fleet at the head of the copy. */
  readonly fleet: Fleet;
  readonly events: number;
}

export interface StandInOptions {
  readonly standIns: StandInCache;
  /** Group passwords to put the stand-in password packages under (scenario `from`); else random ones nobody knows. */
  readonly passwords?: ReadonlyMap<string, string>;
  /** The source's log, when the caller read it already. */
  readonly log?: readonly RecordedEvent[];
}


export async function standInWorld(source: EventStore, options: StandInOptions): Promise<StandInWorld> {
  const log = options.log ?? (await readWholeLog(source));
  const original = new Fleet();
  let head: Instant | null = null;
  for (const event of log) {
    original.apply(event);
    const at = Date.parse(event.metadata.occurredAt);
    if (Number.isFinite(at) && (head === null || at > head)) head = at;
  }

  // ---- stand-ins for every key live at the head ----
  const byObserved = new Map<string, StandIn>();
  const liveByGroup = new Map<string, Map<number, GroupKey>>();
  const pending: Promise<void>[] = [];
  const want = (observed: string, subject: string, version: number, notBefore: Instant, notAfter: Instant) => {
    pending.push(options.standIns.get(observed, subject, version, notBefore, notAfter).then((standIn) => void byObserved.set(observed, standIn)));
  };
  for (const [stream, slot] of original.groups) {
    const live = new Map(liveKeys(slot.state).map((key) => [key.version, key]));
    liveByGroup.set(stream, live);
    for (const key of live.values()) want(key.thumbprint, slot.state.name, key.version, key.createdAt, key.notAfter);
  }
  for (const [, slot] of original.machines) {
    const registration = slot.state;
    if (registration && original.groupOfMachine(registration.name) === null) {
      want(registration.thumbprint, `machine ${registration.name}`, 1, head ?? 0, (head ?? 0) + 5 * 365 * 86_400_000);
    }
  }
  await Promise.all(pending);
  const standInOf = (thumbprint: string) => byObserved.get(thumbprint);
  const byStandIn = new Map([...byObserved.values()].map((s) => [s.thumbprint, s]));

  const groupNameOfStream = (stream: string) => original.groups.get(stream)?.state.name ?? '';
  const envelope = (e: Envelope): Envelope => {
    const standIn = byStandIn.get(e.thumbprint);
    return standIn ? encryptCredential(standIn.certificatePem, PLACEHOLDER_CREDENTIAL) : e;
  };
  const passwordOf = (group: string) => options.passwords?.get(group) ?? randomBytes(24).toString('base64url');

  // ---- the copy, rewritten ----
  const store = createInMemoryEventStore();
  let batch: { stream: string; revision: number; events: NewEvent[] } | null = null;
  const flush = async () => {
    if (batch) await store.append(batch.stream, batch.events, batch.revision - 1);
    batch = null;
  };
  for (const recorded of log) {
    const data = replaceStrings(recorded.data, (text) => standInOf(text)?.thumbprint) as Record<string, unknown>;
    switch (recorded.type) {
      case 'KeyIssued': {
        const standIn = byStandIn.get(String(data.thumbprint));
        if (standIn) {
          data.certificatePem = standIn.certificatePem;
          const previous = findStandInOfVersion(liveByGroup.get(recorded.stream), Number(data.version) - 1, standInOf);
          if (data.wrappedUnderPrevious !== null && previous) data.wrappedUnderPrevious = wrapPrivateKey(standIn.privateKey, previous.certificatePem);
        }
        break;
      }
      case 'GroupImported': {
        const keys = data.keys as ImportedKeyFacts[];
        data.keys = keys.map((key, i) => {
          const standIn = byStandIn.get(key.thumbprint);
          if (!standIn) return key;
          const previous = i > 0 ? byStandIn.get(keys[i - 1]!.thumbprint) : undefined;
          return { ...key, certificatePem: standIn.certificatePem, wrappedUnderPrevious: previous ? wrapPrivateKey(standIn.privateKey, previous.certificatePem) : null };
        });
        // The scenario knows the group's password: a package of the primary's stand-in under it.
        const primary = byStandIn.get(String((data.keys as ImportedKeyFacts[]).at(-1)?.thumbprint));
        const password = options.passwords?.get(String(data.name));
        if (primary && password !== undefined) {
          data.passwordPackage = {
            packageThumbprint: primary.thumbprint,
            passwordPackage: createPasswordPackage({ privateKey: primary.privateKey, certificatePem: primary.certificatePem, password, iterations: MIN_PKCS12_ITERATIONS }),
          };
        }
        break;
      }
      case 'GroupPasswordSet':
      case 'GroupPasswordRegenerated': {
        const standIn = byStandIn.get(String(data.packageThumbprint));
        if (standIn) {
          data.passwordPackage = createPasswordPackage({
            privateKey: standIn.privateKey,
            certificatePem: standIn.certificatePem,
            password: passwordOf(groupNameOfStream(recorded.stream)),
            iterations: MIN_PKCS12_ITERATIONS,
          });
        }
        break;
      }
      case 'MachineRegistered': {
        const standIn = byStandIn.get(String(data.thumbprint));
        if (standIn) data.certificatePem = standIn.certificatePem;
        break;
      }
      case 'ConnectionCreated':
      case 'ConnectionFixed':
        data.ciphertexts = (data.ciphertexts as Envelope[]).map(envelope);
        break;
      case 'ConnectionReencrypted':
        data.ciphertext = envelope(data.ciphertext as Envelope);
        break;
      case 'ConnectionImported':
        data.ciphertexts = (data.keyThumbprints as string[]).map((thumbprint) => envelope({ alg: 'RSA-OAEP-256+A256GCM', thumbprint, encryptedKey: '', iv: '', tag: '', ciphertext: '' }));
        break;
      default:
        break;
    }
    const event: NewEvent = { type: recorded.type, data, metadata: { ...recorded.metadata } };
    if (batch && batch.stream === recorded.stream) batch.events.push(event);
    else {
      await flush();
      batch = { stream: recorded.stream, revision: recorded.revision, events: [event] };
    }
  }
  await flush();

  const fleet = new Fleet();
  for (const event of await readWholeLog(store)) fleet.apply(event);

  // ---- what each machine holds at the head ----
  const machines = new Map<string, { machineId: string; keys: HeldKeyMaterial[] }>();
  for (const [stream, slot] of fleet.groups) {
    const live = liveByGroup.get(stream) ?? new Map<number, GroupKey>();
    for (const member of Object.values(slot.state.members)) {
      const keys: HeldKeyMaterial[] = [];
      for (const version of member.keyVersions) {
        const key = live.get(version);
        const standIn = key ? standInOf(key.thumbprint) : undefined;
        if (standIn) keys.push({ thumbprint: standIn.thumbprint, privateKey: standIn.privateKey, certificatePem: standIn.certificatePem, group: slot.state.name });
      }
      machines.set(member.name, { machineId: member.machineId, keys });
    }
  }
  for (const [, slot] of original.machines) {
    const registration = slot.state;
    const standIn = registration ? standInOf(registration.thumbprint) : undefined;
    if (!registration || !standIn) continue;
    const entry = machines.get(registration.name) ?? { machineId: registration.machineId, keys: [] };
    entry.keys.push({ thumbprint: standIn.thumbprint, privateKey: standIn.privateKey, certificatePem: standIn.certificatePem, group: null });
    machines.set(registration.name, entry);
  }

  return {
    store,
    head,
    machines,
    observedOf: new Map([...byObserved.values()].map((s) => [s.thumbprint, s.observed])),
    fleet,
    events: log.length,
  };
}

function findStandInOfVersion(live: Map<number, GroupKey> | undefined, version: number, standInOf: (t: string) => StandIn | undefined): StandIn | undefined {
  const key = live?.get(version);
  return key ? standInOf(key.thumbprint) : undefined;
}

/** A deep copy of a JSON value with every string that `replace` maps replaced. */
export function replaceStrings(value: unknown, replace: (text: string) => string | undefined): unknown {
  if (typeof value === 'string') return replace(value) ?? value;
  if (Array.isArray(value)) return value.map((item) => replaceStrings(item, replace));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = replaceStrings(item, replace);
    return out;
  }
  return value;
}
