/**
 * An event as admin commands and dry runs show it: where it is in the log, what it is, and its data
 * without the bulky opaque parts (ciphertexts, password packages, wrapped keys, certificates), which
 * say nothing to a person and, in a dry run, hold only placeholders.
 */
import type { RecordedEvent } from '../store/port.js';

export interface EventView {
  readonly position: number;
  readonly stream: string;
  readonly type: string;
  readonly occurredAt: string;
  readonly data: Record<string, unknown>;
}

const OPAQUE = new Set(['ciphertexts', 'ciphertext', 'passwordPackage', 'wrappedUnderPrevious', 'certificatePem', 'encryptedKey']);

function opaque(key: string, value: unknown): unknown {
  if (value === null || value === undefined) return value;
  if (Array.isArray(value)) return `(${value.length} ${key === 'ciphertexts' ? 'ciphertext' : 'item'}${value.length === 1 ? '' : 's'}, omitted)`;
  return '(omitted)';
}

export function eventView(event: RecordedEvent): EventView {
  const data: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(event.data)) data[key] = OPAQUE.has(key) ? opaque(key, value) : value;
  return { position: event.position, stream: event.stream, type: event.type, occurredAt: event.metadata.occurredAt, data };
}

/** What an event is about, in a word: the machine, the name, the key version. */
export function eventSubject(event: EventView): string {
  const data = event.data;
  if (data.machine !== undefined || data.name !== undefined) return String(data.machine ?? data.name);
  if (data.version !== undefined) return `v${String(data.version)}`;
  if (data.keyVersion !== undefined) return `key v${String(data.keyVersion)}`;
  if (data.minutes !== undefined) return `${String(data.minutes)} minutes`;
  if (data.enabled !== undefined) return data.enabled ? 'on' : 'off';
  return '';
}

export function describeEvent(event: EventView): string {
  return `${String(event.position).padStart(7)}  ${event.occurredAt}  ${event.type.padEnd(28)} ${eventSubject(event)}`;
}
