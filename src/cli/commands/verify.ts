import type { Command } from 'commander';
import { checkReadModel } from '../../../projections/readModelCheck.js';
import { defaultReadModelFile } from '../../../projections/readModel.js';
import { RekeyError } from '../../kernel/errors.js';
import { incompleteSimulation } from '../../simulation/runMarkers.js';
import type { EventStore } from '../../store/port.js';
import type { VerifyResult } from '../../store/hashChain.js';
import { printJson, printLine } from '../output.js';
import { openStore, withStoreOptions } from '../storeOptions.js';

/** The hash chain's result, or a failure found after it (a run cut short, the read model). */
type VerifyReport =
  | (Extract<VerifyResult, { ok: true }> & { readModel?: { position: number; rows: number; snapshots: number } })
  | { ok: false; position: number; reason: 'tampered' | 'missing' | 'incomplete' | 'read-model'; checked: number; message: string };

export function verifyCommand(program: Command): void {
  withStoreOptions(
    program
      .command('verify')
      .description('recompute the hash chain over every event and compare the read model with the log; report the first tampered or missing position')
      .option('--expect-head <hash>', 'the head hash recorded earlier: also detects a log cut short at its end')
      .option('--json', 'print {"ok", "checked", "headHash", "headPosition", "readModel"?} or {"ok": false, "position", "reason", "checked", "message"}'),
  )
    .addHelpText('after', `
Exits 0 when the chain holds, 1 when it does not. Also exit 1: a simulation in the log that did not
finish (reason incomplete), a read model (<db>.read.db) that has applied events the log no longer
holds (reason missing: a lost -wal file?) or whose rows or snapshots differ from a replay of the log
(reason read-model).

Examples:
  rekey verify --db /tmp/healthy.db
  rekey verify --expect-head 3f2a...e9 --json`)
    .action(async (options: { expectHead?: string; json?: boolean; db?: string; eventstore?: string }) => {
      if (options.expectHead !== undefined && !/^[0-9a-f]{64}$/.test(options.expectHead)) {
        throw new RekeyError('ARGUMENT_INVALID', `--expect-head ${JSON.stringify(options.expectHead.slice(0, 100))} is not a head hash; expected 64 lower-case hex digits as printed by rekey verify`, {}, 'validation');
      }
      const store = await openStore(options, { mustExist: true, warnIncomplete: false });
      try {
        if (!store.verify) throw new RekeyError('VERIFY_UNSUPPORTED', `the ${store.kind} store cannot verify its hash chain`, {}, 'validation');
        const report = await beyondTheChain(store, await store.verify({ expectHead: options.expectHead }));
        if (options.json) printJson(report);
        else if (report.ok) {
          printLine(`ok: ${report.checked} events checked, head ${report.headHash}`);
          if (report.readModel) printLine(`read model: ${report.readModel.rows} rows and ${report.readModel.snapshots} snapshots at position ${report.readModel.position} equal a replay of the log`);
        } else printLine(`FAILED at position ${report.position} (${report.reason}): ${report.message}`);
        if (!report.ok) process.exitCode = 1;
      } finally {
        await store.close();
      }
    });
}

/** After a sound chain: the read model against the log, then whether a simulation was cut short. */
async function beyondTheChain(store: EventStore, chain: VerifyResult): Promise<VerifyReport> {
  if (!chain.ok) return chain;
  const file = defaultReadModelFile(store);
  const readModel = file === ':memory:' ? null : await checkReadModel(store, file);
  if (readModel && (readModel.status === 'missing' || readModel.status === 'forged')) {
    return { ok: false, position: readModel.position, reason: readModel.status === 'missing' ? 'missing' : 'read-model', checked: chain.checked, message: readModel.message };
  }
  const incomplete = await incompleteSimulation(store);
  if (incomplete) return { ok: false, position: chain.headPosition + 1, reason: 'incomplete', checked: chain.checked, message: incomplete.message };
  return readModel?.status === 'ok'
    ? { ...chain, readModel: { position: readModel.position, rows: readModel.rows, snapshots: readModel.snapshots } }
    : chain;
}
