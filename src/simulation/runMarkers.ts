/**
 * A simulation writes its run into the log between two markers in the `simulation` stream:
 * `SimulationStarted` (seed, start, end) before its first event and `SimulationEnded` after its last.
 * A run killed part-way leaves the first without the second, and every reader of the log says so
 * (`SIMULATION_INCOMPLETE`): the CLI's readers with a warning line, `rekey verify` as a failed check,
 * `rekey serve` on start-up and in /health. The log itself stays as it was: what it holds is true,
 * it is only not the whole run.
 */
import { RekeyError, errorKind } from '../kernel/errors.js';
import type { EventStore, RecordedEvent } from '../store/port.js';

/** The stream that records a simulation run (seed, start and end); no table shows it. */
export const SIMULATION_STREAM = 'simulation';
export const SIMULATION_INCOMPLETE = errorKind('SIMULATION_INCOMPLETE', 'integrity');

/** The simulation run whose start the log holds but not its end, described; null when every run ended. */
export async function incompleteSimulation(store: EventStore): Promise<RekeyError | null> {
  let open: RecordedEvent | null = null;
  for (const marker of await store.readStream(SIMULATION_STREAM)) {
    if (marker.type === 'SimulationStarted') open = marker;
    else if (marker.type === 'SimulationEnded') open = null;
  }
  if (!open) return null;
  const head = await store.headPosition();
  const [last] = await store.readAll(head, 1);
  const { seed, start, end } = open.data as { seed?: unknown; start?: unknown; end?: unknown };
  const stoppedAt = last?.metadata.occurredAt ?? open.metadata.occurredAt;
  return new RekeyError(
    SIMULATION_INCOMPLETE,
    `the simulation in this log (seed ${String(seed)}, from ${String(start)} to ${String(end)}) did not finish: ` +
      `the log stops at position ${head} (${stoppedAt}) without its SimulationEnded marker, so the tables show the run cut short there; ` +
      'run the scenario again into a new store for the whole run',
    { seed, start, end, position: head, stoppedAt },
  );
}
