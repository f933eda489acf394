/**
 * `rekey import`: export files to events. The observed state becomes, at the import instant:
 * - in the `import` stream, one `StateImported` record: the instant, the files and what they held,
 *   and that the history before this instant is unknown;
 * - in each group's stream (`group-<flowmachinegroupid>`), `GroupImported` then one `MachineImported`
 *   per member, by name;
 * - in each connection's stream (`connection-<connectionid>`), `ConnectionImported`.
 * Every event says it was observed, not done: nothing here ever claims a join, an issued key or a run.
 */
import { RekeyError, errorKind } from '../kernel/errors.js';
import type { DomainEvent, Timed } from '../domain/events.js';
import { toIso, type Instant } from '../domain/time.js';
import { connectionStream, groupStream } from '../domain/streams.js';
import { toNewEvent } from '../domain/codec.js';
import { STORE_NOT_EMPTY } from '../simulation/simulator.js';
import type { EventStore, NewEvent } from '../store/port.js';
import { commonLocale, describeWhere, readExportFile, type ExportFile, type ImportProblem, type ReadOptions } from './exportFiles.js';
import { observeFleet, type ObservedFleet } from './observe.js';
import { partialProblems, partialTables, type PartialTable } from './pages.js';

export const IMPORT_INVALID = errorKind('IMPORT_INVALID', 'validation');
/** The stream that records an import (its instant, files and what it left out); no table shows it. */
export const IMPORT_STREAM = 'import';
export const MAX_LISTED_IMPORT_PROBLEMS = 20;

export const UNKNOWN_HISTORY_NOTE =
  'state observed in Dataverse exports at observedAt; the history before it is unknown (no joins, keys issued or runs are claimed) and rekey never held the private keys of the imported groups';

export interface ImportOptions extends ReadOptions {
  readonly asOf?: Instant;
  readonly skipBad?: boolean;
  /** Import a table of which some pages are missing (@odata.nextLink without its page) anyway. */
  readonly allowPartial?: boolean;
}

export interface ImportReport {
  readonly observedAt: string;
  readonly files: ObservedFleet['files'];
  readonly groups: number;
  readonly machines: number;
  readonly connections: number;
  /** Machines outside any group: read, not imported. */
  readonly ignoredMachines: readonly string[];
  readonly events: number;
  /** The problems found; with --skip-bad, the rows they name were left out. */
  readonly skipped: readonly (ImportProblem & { readonly where: string })[];
  /** Tables only partly in the files, imported as they are (--allow-partial). */
  readonly partial: readonly PartialTable[];
}

/** Reads and checks the files; throws IMPORT_INVALID listing every problem when any (and not skipBad). */
export function readFleet(files: readonly string[], options: ImportOptions = {}): ObservedFleet {
  const exports: ExportFile[] = [];
  const fileProblems: ImportProblem[] = [];
  for (const file of files) {
    const read = readExportFile(file, options);
    if (read.ok) exports.push(read.export);
    else fileProblems.push(read.problem);
  }
  if (fileProblems.length > 0) throw importInvalid(fileProblems, 'cannot be imported');
  // One locale for the files of one export: re-read those that chose another (they fit it too).
  const locale = options.locale === undefined ? commonLocale(exports) : undefined;
  const settled = locale === undefined ? exports : exports.map((file) => {
    if (file.fittingLocales === undefined || file.locale === locale) return file;
    const again = readExportFile(file.file, { ...options, locale });
    return again.ok ? { ...again.export, localeSource: 'inferred from the files' as const } : file;
  });
  return observeExports(settled, options);
}

/** Checks exports already read (files, or pages `import --from` fetched) and works out the fleet. */
export function observeExports(exports: readonly ExportFile[], options: ImportOptions = {}): ObservedFleet {
  const partial = partialTables(exports);
  if (partial.length > 0 && !options.allowPartial) throw importInvalid(partialProblems(partial), 'is incomplete (nothing was imported)');
  const fleet = observeFleet(exports, options);
  if (fleet.problems.length > 0 && !options.skipBad) throw importInvalid(fleet.problems, 'has bad rows (nothing was imported; --skip-bad imports the good rows)');
  if (fleet.groups.length === 0 && fleet.loneMachines.length === 0) {
    const why = fleet.problems.length > 0 ? 'every row was bad' : 'the files hold no flowmachinegroups rows';
    throw new RekeyError(IMPORT_INVALID, `nothing to import: ${why}; expected at least one machine group`, { problems: fleet.problems }, 'validation');
  }
  if (exports.every((file) => file.table !== 'flowmachinegroups')) {
    throw new RekeyError(IMPORT_INVALID, 'no flowmachinegroups export among the files; expected the groups beside their machines', {}, 'validation');
  }
  return { ...fleet, partial };
}

export function importInvalid(problems: readonly ImportProblem[], what: string): RekeyError {
  const lines = problems.slice(0, MAX_LISTED_IMPORT_PROBLEMS).map((p) => `${describeWhere(p)}: ${p.reason}`);
  if (problems.length > MAX_LISTED_IMPORT_PROBLEMS) lines.push(`... and ${problems.length - MAX_LISTED_IMPORT_PROBLEMS} more`);
  const count = `${problems.length} ${problems.length === 1 ? 'problem' : 'problems'}`;
  return new RekeyError(IMPORT_INVALID, `the export ${what} (${count}):\n${lines.join('\n')}`, { problems: [...problems] }, 'validation');
}

/** The events an observed fleet becomes, by stream, in the order they are appended. */
export function importEvents(fleet: ObservedFleet): { stream: string; events: NewEvent[] }[] {
  const at = fleet.observedAt;
  const observedAt = toIso(at);
  const iso = (instant: Instant | null) => (instant === null ? null : toIso(instant));
  const commandId = `import-${observedAt}`;
  const context = { commandId, correlationId: commandId };
  const timed = (event: DomainEvent): Timed<DomainEvent> => ({ ...event, at }) as Timed<DomainEvent>;
  const streams: { stream: string; events: NewEvent[] }[] = [];
  streams.push({
    stream: IMPORT_STREAM,
    events: [{
      type: 'StateImported',
      data: {
        observedAt,
        files: fleet.files.map((f) => ({ ...f })),
        groups: fleet.groups.map((g) => g.group.name),
        machines: fleet.groups.flatMap((g) => g.members.map((m) => m.machine.name)),
        connections: fleet.connections.map((c) => c.name),
        ignoredMachines: fleet.loneMachines.map((m) => m.name),
        skippedRows: fleet.problems.map((p) => ({ where: describeWhere(p), reason: p.reason })),
        ...(fleet.partial !== undefined && fleet.partial.length > 0 ? { partialTables: fleet.partial.map((p) => ({ ...p })) } : {}),
        historyBefore: 'unknown',
        note: UNKNOWN_HISTORY_NOTE,
      },
      metadata: { occurredAt: observedAt, commandId, correlationId: commandId },
    }],
  });
  for (const plan of fleet.groups) {
    const g = plan.group;
    const events: NewEvent[] = [toNewEvent(timed({
      type: 'GroupImported',
      data: {
        groupId: g.groupId,
        name: g.name,
        keyValidityPeriod: g.validity,
        keyExpiryGracePeriod: g.grace,
        proactiveReencryption: g.proactiveReencryption,
        observedAt,
        createdOn: iso(g.createdOn),
        expired: g.expired,
        passwordChangedAt: iso(g.passwordChangedAt),
        rotationStartedBy: g.rotationStartedBy,
        passwordRegenerationRequired: g.passwordRegenerationRequired ?? (plan.renewal !== null),
        keys: plan.keys.map((key) => ({ ...key })),
        renewal: plan.renewal === null ? null : { startsAt: toIso(plan.renewal.startsAt), endsAt: toIso(plan.renewal.endsAt) },
        source: g.source,
      },
    }), context)];
    for (const { machine, keyVersions } of plan.members) {
      events.push(toNewEvent(timed({
        type: 'MachineImported',
        data: {
          machineId: machine.machineId,
          machine: machine.name,
          agentVersion: machine.agentVersion,
          status: machine.status,
          keyVersions: [...keyVersions],
          keyReceivedAt: iso(machine.keyReceivedAt),
          lastHeartbeatAt: iso(machine.lastHeartbeatAt),
          observedAt,
          source: machine.source,
        },
      }), context));
    }
    streams.push({ stream: groupStream(g.groupId), events });
  }
  for (const c of fleet.connections) {
    streams.push({
      stream: connectionStream(c.connectionId),
      events: [toNewEvent(timed({
        type: 'ConnectionImported',
        data: {
          connectionId: c.connectionId,
          name: c.name,
          target: { ...c.target },
          needsFix: c.needsFix,
          keyThumbprints: [...c.keyThumbprints],
          lastUsedAt: iso(c.lastUsedAt),
          reencryptedAt: iso(c.reencryptedAt),
          observedAt,
          source: c.source,
        },
      }), context)],
    });
  }
  return streams;
}

/**
 * Writes an observed fleet into a new or empty store, in ONE atomic write (`appendMany`): a process
 * killed at any moment leaves the store with all of the import or none of it, never a partial fleet
 * under an import record that claims every group. Every stream is expected new, so two imports
 * racing into one store cannot both land.
 */
export async function importFleet(store: EventStore, fleet: ObservedFleet): Promise<ImportReport> {
  if ((await store.headPosition()) > 0) {
    throw new RekeyError(STORE_NOT_EMPTY, 'the store already holds events; import into a new or empty store (choose another --db file)', {}, 'validation');
  }
  const batches = importEvents(fleet).map(({ stream, events }) => ({ stream, events, expected: -1 as const }));
  await store.appendMany(batches);
  return importReport(fleet, batches.reduce((n, batch) => n + batch.events.length, 0));
}

export function importReport(fleet: ObservedFleet, events: number): ImportReport {
  return {
    observedAt: toIso(fleet.observedAt),
    files: fleet.files,
    groups: fleet.groups.length,
    machines: fleet.groups.reduce((n, g) => n + g.members.length, 0),
    connections: fleet.connections.length,
    ignoredMachines: fleet.loneMachines.map((m) => m.name),
    events,
    skipped: fleet.problems.map((p) => ({ ...p, where: describeWhere(p) })),
    partial: fleet.partial ?? [],
  };
}
