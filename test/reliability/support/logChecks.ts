/**
 * What must hold of a log and its read model whatever happened to the processes that wrote them.
 * Each check returns the problems it found (empty when all is well), so a test can show them all.
 */
import { isDeepStrictEqual } from 'node:util';
import { Projection, TABLES, openReadModel, replayInto } from '../../../projections/index.js';
import type { GroupEvent, Timed } from '../../../src/domain/events.js';
import { evolveGroup } from '../../../src/domain/group/evolve.js';
import { nextDue } from '../../../src/domain/group/schedule.js';
import { initialGroupState, type GroupState } from '../../../src/domain/group/state.js';
import { toIso } from '../../../src/domain/time.js';
import { toDomainEvent } from '../../../src/domain/codec.js';
import { streamKind } from '../../../src/domain/streams.js';
import type { EventStore, RecordedEvent } from '../../../src/store/port.js';

/** Positions 1..n, revisions 0..m per stream, and each command id's events written by one append. */
export function shapeProblems(events: readonly RecordedEvent[]): string[] {
  const problems: string[] = [];
  events.forEach((event, i) => {
    if (event.position !== i + 1) problems.push(`event #${i + 1} has position ${event.position}`);
  });
  const revisions = new Map<string, number>();
  for (const event of events) {
    const expected = (revisions.get(event.stream) ?? -1) + 1;
    if (event.revision !== expected) problems.push(`position ${event.position}: stream ${event.stream} revision ${event.revision}, expected ${expected}`);
    revisions.set(event.stream, event.revision);
  }
  const blocks = new Map<string, { stream: string; last: number; appends: number }>();
  for (const event of events) {
    const id = event.metadata.commandId;
    const block = blocks.get(id);
    if (!block) blocks.set(id, { stream: event.stream, last: event.position, appends: 1 });
    else if (block.stream !== event.stream || block.last !== event.position - 1) {
      block.appends++;
      block.stream = event.stream;
      block.last = event.position;
    } else block.last = event.position;
  }
  for (const [id, block] of blocks) if (block.appends > 1) problems.push(`command ${id} was appended ${block.appends} times (last at position ${block.last})`);
  return problems;
}

/** Event positions whose occurredAt is earlier than an event before them (as-of reads assume the log never goes back). */
export function timeOrderProblems(events: readonly RecordedEvent[]): string[] {
  const problems: string[] = [];
  let latest = '';
  let latestPosition = 0;
  for (const event of events) {
    const at = event.metadata.occurredAt;
    if (at < latest) problems.push(`position ${event.position} (${event.type}) occurred at ${at}, before position ${latestPosition} at ${latest}`);
    else {
      latest = at;
      latestPosition = event.position;
    }
  }
  return problems;
}

const DUE_EVENT = { pickup: 'SettingsPickedUp', retirement: 'KeyExpired', renewalStart: 'RenewalStarted' } as const;
/** Recorded in the same batch as the KeyExpired of a retirement. */
const RETIREMENT_FOLLOWERS = new Set(['MachineKeyExpired', 'GroupKeyExpired']);

/**
 * The scheduler never skipped a due time (R3, R4, R10, R15): folding each group's stream, whenever
 * an event is recorded at or after an instant that was due, it is that due event, at that instant.
 */
export function dueTimeProblems(events: readonly RecordedEvent[]): string[] {
  const problems: string[] = [];
  const states = new Map<string, GroupState>();
  for (const recorded of events) {
    if (streamKind(recorded.stream) !== 'group') continue;
    const event = toDomainEvent(recorded) as Timed<GroupEvent>;
    const state = states.get(recorded.stream) ?? initialGroupState;
    const due = nextDue(state);
    if (due && due.at <= event.at && !RETIREMENT_FOLLOWERS.has(event.type)) {
      if (event.type !== DUE_EVENT[due.kind] || event.at !== due.at) {
        problems.push(`position ${recorded.position}: ${event.type} at ${toIso(event.at)}, but ${due.kind} was due at ${toIso(due.at)} and not recorded`);
      }
    }
    states.set(recorded.stream, evolveGroup(state, event));
  }
  return problems;
}

/** Each group's state folded from the log, by stream. */
export function groupStates(events: readonly RecordedEvent[]): Map<string, GroupState> {
  const states = new Map<string, GroupState>();
  for (const recorded of events) {
    if (streamKind(recorded.stream) !== 'group') continue;
    states.set(recorded.stream, evolveGroup(states.get(recorded.stream) ?? initialGroupState, toDomainEvent(recorded) as Timed<GroupEvent>));
  }
  return states;
}

/**
 * The read model file holds the tables exactly as of its checkpoint: the same rows as a projection
 * replayed from position 1 to the checkpoint, and the checkpoint names an event of this log.
 */
export async function readModelProblems(store: EventStore, file: string): Promise<{ position: number; problems: string[] }> {
  const model = openReadModel({ store, file });
  try {
    const checkpoint = model.checkpoint();
    const problems: string[] = [];
    if (checkpoint.position === 0) return { position: 0, problems };
    const [event] = await store.readAll(checkpoint.position, 1);
    if (!event || event.hash !== checkpoint.hash) problems.push(`checkpoint ${checkpoint.position} (${checkpoint.hash}) names no event of the log`);
    const projection = new Projection();
    await replayInto(store, projection, { position: checkpoint.position });
    for (const table of TABLES) {
      const stored = model.rows(table);
      const replayed = projection.rows(table, checkpoint.instant);
      if (!isDeepStrictEqual(stored, replayed)) {
        problems.push(`${table} at checkpoint ${checkpoint.position}: stored ${JSON.stringify(stored).slice(0, 600)} != replayed ${JSON.stringify(replayed).slice(0, 600)}`);
      }
    }
    return { position: checkpoint.position, problems };
  } finally {
    await model.close();
  }
}

