/**
 * One of several engine processes sharing one SQLite file (concurrency.test.ts). It opens the built
 * engine on the file, waits for a common start instant so that all of them write at once, and sends
 * its share of the commands, each with its command id. Every command is also sent by one other
 * process. One JSON line per command on stdout: what the engine recorded for it.
 *
 * Usage: node concurrencyWorker.js '<ConcurrencyConfig as JSON>' with REKEY_ROOT set.
 */
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';

export type SharedCommand = { readonly i: number } & (
  | { readonly kind: 'validity'; readonly group: string; readonly minutes: number }
  | { readonly kind: 'grace'; readonly group: string; readonly minutes: number }
  | { readonly kind: 'runFailure'; readonly connection: string }
  | { readonly kind: 'run'; readonly connection: string; readonly machine: string; readonly thumbprint: string }
);

export interface ConcurrencyConfig {
  readonly db: string;
  readonly worker: number;
  /** Domain time of every command: one instant, so that the log's time never goes back. */
  readonly at: number;
  /** Wall-clock instant (ms) at which every worker starts sending. */
  readonly startAt: number;
  readonly commands: readonly SharedCommand[];
}

export interface CommandOutcome {
  readonly i: number;
  readonly worker: number;
  readonly positions: number[];
  readonly refused: string | null;
}

export const commandIdOf = (i: number) => `cc-${i}`;

/** Executes one shared command on an engine: the same code in the workers and in the serial replay. */
export async function execute(engine: import('../../../src/engine/engine.js').Engine, command: SharedCommand) {
  const options = { commandId: commandIdOf(command.i) };
  switch (command.kind) {
    case 'validity': return engine.setKeyValidityPeriod(command.group, command.minutes, options);
    case 'grace': return engine.setKeyExpiryGracePeriod(command.group, command.minutes, options);
    case 'runFailure': return engine.recordRunFailure(command.connection, 'TEST_FAILURE', `run ${command.i} failed`, options);
    case 'run': return engine.recordRun(command.connection, command.machine, command.thumbprint, null, options);
  }
}

const root = process.env.REKEY_ROOT;
// Run as a script (not imported by the test for its serial replay).
if (root && process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const dist = (path: string) => import(`${root}/dist/${path}`);
  const { Engine } = (await dist('src/engine/engine.js')) as typeof import('../../../src/engine/engine.js');
  const { openSqliteEventStore } = (await dist('src/store/sqlite.js')) as typeof import('../../../src/store/sqlite.js');
  const { isRekeyError } = (await dist('src/kernel/errors.js')) as typeof import('../../../src/kernel/errors.js');
  const config = JSON.parse(process.argv[2]!) as ConcurrencyConfig;
  const store = openSqliteEventStore({ file: config.db, busyTimeoutMs: 30_000 });
  const engine = await Engine.open({ store, clock: { now: () => config.at }, ids: { next: () => `w${config.worker}-${randomUUID()}` }, maxRetries: 1000 });
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, config.startAt - Date.now())));
  for (const command of config.commands) {
    let outcome: CommandOutcome;
    try {
      const recorded = await execute(engine, command);
      outcome = { i: command.i, worker: config.worker, positions: recorded.map((e) => e.position), refused: null };
    } catch (error) {
      if (!isRekeyError(error)) throw error;
      outcome = { i: command.i, worker: config.worker, positions: [], refused: error.code };
    }
    process.stdout.write(`${JSON.stringify(outcome)}\n`);
  }
  await store.close();
}
