/**
 * The `stateHash` of a run (docs/scenarios.md, Output and reproducibility): a SHA-256 over the final tables in which key
 * material and generated ids are replaced by stable labels (`Finance#v2` for a thumbprint,
 * `machine:FIN-01` for an id), so that the same scenario and seed give the same hash on any machine,
 * although every key is fresh and random, and a replay of the log gives it again.
 */
import { createHash } from 'node:crypto';
import type { EventStore } from '../store/port.js';
import { streamKind } from '../domain/streams.js';
import { logPages } from '../store/logPages.js';

type Row = Record<string, unknown>;

/** Labels for every thumbprint and generated id in the log, read from the log itself. */
export async function stableLabels(store: EventStore): Promise<Map<string, string>> {
  const labels = new Map<string, string>();
  const groupNames = new Map<string, string>();
  for await (const page of logPages(store)) {
    for (const event of page) {
      const data = event.data as Record<string, unknown>;
      if (streamKind(event.stream) === 'group' && event.type === 'GroupCreated') {
        groupNames.set(event.stream, String(data.name));
        labels.set(String(data.groupId), `group:${String(data.name)}`);
      }
      if (event.type === 'KeyIssued') labels.set(String(data.thumbprint), `${groupNames.get(event.stream) ?? '?'}#v${String(data.version)}`);
      if (event.type === 'MachineJoined') labels.set(String(data.machineId), `machine:${String(data.machine)}`);
      // rekey import: observed groups, their keys (by version), machines and connections.
      if (event.type === 'GroupImported') {
        groupNames.set(event.stream, String(data.name));
        labels.set(String(data.groupId), `group:${String(data.name)}`);
        for (const key of data.keys as { thumbprint: string; version: number }[]) labels.set(key.thumbprint, `${String(data.name)}#v${key.version}`);
      }
      if (event.type === 'MachineImported') labels.set(String(data.machineId), `machine:${String(data.machine)}`);
      if (event.type === 'ConnectionImported') labels.set(String(data.connectionId), `connection:${String(data.name)}`);
      if (event.type === 'MachineRegistered') {
        labels.set(String(data.machineId), `machine:${String(data.name)}`);
        labels.set(String(data.thumbprint), `machine:${String(data.name)}#own`);
      }
      if (event.type === 'ConnectionCreated') labels.set(String(data.connectionId), `connection:${String(data.name)}`);
    }
  }
  return labels;
}

function relabel(value: unknown, labels: Map<string, string>): unknown {
  if (typeof value === 'string') return labels.get(value) ?? value;
  if (Array.isArray(value)) return value.map((item) => relabel(item, labels));
  if (value !== null && typeof value === 'object') {
    const out: Row = {};
    for (const key of Object.keys(value).sort()) out[key] = relabel((value as Row)[key], labels);
    return out;
  }
  return value;
}

export function stateHash(tables: Record<string, readonly Row[]>, labels: Map<string, string>): string {
  const canonical: Record<string, unknown[]> = {};
  for (const table of Object.keys(tables).sort()) {
    canonical[table] = tables[table]!
      .map((row) => relabel(row, labels))
      .map((row) => JSON.stringify(row))
      .sort();
  }
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex');
}
