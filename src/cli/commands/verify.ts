import type { Command } from 'commander';
import { RekeyError } from '../../kernel/errors.js';
import { printJson, printLine } from '../output.js';
import { openStore, withStoreOptions } from '../storeOptions.js';

export function verifyCommand(program: Command): void {
  withStoreOptions(
    program
      .command('verify')
      .description('recompute the hash chain over every event; report the first tampered or missing position')
      .option('--expect-head <hash>', 'the head hash recorded earlier: also detects a log cut short at its end')
      .option('--json', 'print {"ok", "checked", "headHash"} or {"ok": false, "position", "reason"}'),
  )
    .addHelpText('after', `
Exits 0 when the chain holds, 1 when it does not.

Examples:
  rekey verify --db /tmp/healthy.db
  rekey verify --expect-head 3f2a...e9 --json`)
    .action(async (options: { expectHead?: string; json?: boolean; db?: string; eventstore?: string }) => {
      if (options.expectHead !== undefined && !/^[0-9a-f]{64}$/.test(options.expectHead)) {
        throw new RekeyError('ARGUMENT_INVALID', `--expect-head ${JSON.stringify(options.expectHead.slice(0, 100))} is not a head hash; expected 64 lower-case hex digits as printed by rekey verify`, {}, 'validation');
      }
      const store = await openStore(options, { mustExist: true });
      try {
        if (!store.verify) throw new RekeyError('VERIFY_UNSUPPORTED', `the ${store.kind} store cannot verify its hash chain`, {}, 'validation');
        const result = await store.verify({ expectHead: options.expectHead });
        if (options.json) printJson(result);
        else if (result.ok) printLine(`ok: ${result.checked} events checked, head ${result.headHash}`);
        else printLine(`FAILED at position ${result.position} (${result.reason}): ${result.message}`);
        if (!result.ok) process.exitCode = 1;
      } finally {
        await store.close();
      }
    });
}
