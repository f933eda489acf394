/**
 * `rekey group create|set|delete|show`: machine groups on a live store or service. The group's own
 * rules decide (R1, R2 bounds; R4 pickup a day later; R5 a renewal at once; R19 deletion).
 */
import type { Command } from 'commander';
import type { AdminCommand } from '../../admin/commands.js';
import { RekeyError } from '../../kernel/errors.js';
import { ARGUMENT_INVALID } from '../../kernel/errors.js';
import { parseInteger } from '../arguments.js';
import { openTarget, withChangeOptions, type ChangeOptions } from '../adminOptions.js';
import { printResult } from '../adminOutput.js';
import { findRow, showSubcommand } from '../showRow.js';

interface GroupOptions extends ChangeOptions {
  validity?: string;
  grace?: string;
  proactiveReencryption?: string | boolean;
  create?: boolean;
  yes?: boolean;
}

const minutes = (option: string, text: string) => parseInteger(option, text, -Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);

function onOff(text: string): boolean {
  if (/^(on|true|yes)$/i.test(text)) return true;
  if (/^(off|false|no)$/i.test(text)) return false;
  throw new RekeyError(ARGUMENT_INVALID, `--proactive-reencryption ${JSON.stringify(text.slice(0, 40))} is neither on nor off`, { option: '--proactive-reencryption' }, 'validation');
}

export async function runChange(commands: AdminCommand[], options: ChangeOptions & { create?: boolean }, credential?: () => Promise<{ username: string; password: string }>): Promise<void> {
  const target = openTarget(options, { create: options.create });
  try {
    const dryRun = options.dryRun === true;
    const result = await target.run(commands, { dryRun, forecast: options.forecast !== false, ...(credential && !dryRun ? { credential: await credential() } : {}) });
    printResult(result, target.description, options.json);
  } finally {
    await target.close();
  }
}

export function groupCommand(program: Command): void {
  const group = program
    .command('group')
    .description('machine groups on a live store or service: create, set (validity, grace, proactive re-encryption), delete, show');
  // `rekey group` alone: its help on stdout, like `rekey` alone.
  group.action(() => {
    process.stdout.write(group.helpInformation());
  });

  withChangeOptions(
    group
      .command('create')
      .argument('<name>', 'the new machine group\'s name')
      .description('create an empty machine group (the first machine that joins issues its certificate, R7)')
      .option('--validity <minutes>', 'keyValidityPeriod, 129600 to 2628000 minutes (default 2628000, five years; R1)')
      .option('--grace <minutes>', 'keyExpiryGracePeriod, 64800 minutes to half the validity (default 259200; R2)')
      .option('--proactive-reencryption', 'members holding both keys re-encrypt the group\'s connections at check-in during a renewal')
      .option('--create', 'start a new embedded store file if --db names none yet'),
  )
    .addHelpText('after', `
Examples:
  rekey group create Finance --db ./data/rekey.db
  rekey group create Lab --validity 525600 --grace 129600 --dry-run --db ./data/rekey.db
  rekey group create HR --server http://127.0.0.1:8080 --token-file ~/.rekey-token --json`)
    .action(async (name: string, options: GroupOptions) => {
      await runChange([{
        command: 'createGroup',
        name,
        ...(options.validity !== undefined ? { keyValidityPeriod: minutes('--validity', options.validity) } : {}),
        ...(options.grace !== undefined ? { keyExpiryGracePeriod: minutes('--grace', options.grace) } : {}),
        ...(options.proactiveReencryption ? { proactiveReencryption: true } : {}),
      }], options);
    });

  withChangeOptions(
    group
      .command('set')
      .argument('<name>', 'the machine group')
      .description('change a group\'s settings: recorded at once, picked up 1,440 minutes later (R4); a shorter validity or a longer grace can start a renewal at once (R5)')
      .option('--validity <minutes>', 'keyValidityPeriod, 129600 to 2628000 minutes (R1); applies to the next key, or starts a renewal now (R5)')
      .option('--grace <minutes>', 'keyExpiryGracePeriod, 64800 minutes to half the validity (R2)')
      .option('--proactive-reencryption <on|off>', 'members holding both keys re-encrypt connections at check-in during a renewal'),
  )
    .addHelpText('after', `
Given both, --grace and --validity are applied in the order R2 allows (a longer validity first, a
shorter one after the grace), and
when the rules refuse either, neither is recorded. Try a change first with --dry-run: it prints the
events, the rows that would change and who would miss the next renewal before and after.

Examples:
  rekey group set Finance --grace 64800 --dry-run
  rekey group set Finance --grace 64800 --validity 525600 --json
  rekey group set HR --proactive-reencryption on --server http://127.0.0.1:8080`)
    .action(async (name: string, options: GroupOptions) => {
      const commands: AdminCommand[] = [];
      const validity = options.validity === undefined ? undefined : minutes('--validity', options.validity);
      const grace = options.grace === undefined ? undefined : minutes('--grace', options.grace);
      const setValidity: AdminCommand | null = validity === undefined ? null : { command: 'setKeyValidityPeriod', group: name, minutes: validity };
      const setGrace: AdminCommand | null = grace === undefined ? null : { command: 'setKeyExpiryGracePeriod', group: name, minutes: grace };
      // R2 checks each change against the other setting as recorded: a longer validity goes first
      // (so that a longer grace fits it), a shorter one last (once the grace fits it).
      let validityFirst = false;
      if (setValidity && setGrace) {
        const target = openTarget(options);
        try {
          validityFirst = validity! >= Number(findRow(await target.tables(), 'flowmachinegroups', name).keyvalidityperiod);
        } finally {
          await target.close();
        }
      }
      for (const command of validityFirst ? [setValidity, setGrace] : [setGrace, setValidity]) if (command) commands.push(command);
      if (typeof options.proactiveReencryption === 'string') commands.push({ command: 'setProactiveReencryption', group: name, enabled: onOff(options.proactiveReencryption) });
      if (commands.length === 0) throw new RekeyError('USAGE', 'nothing to set: give --validity MINUTES, --grace MINUTES or --proactive-reencryption on|off', {}, 'validation');
      await runChange(commands, options);
    });

  withChangeOptions(
    group
      .command('delete')
      .argument('<name>', 'the machine group')
      .description('delete a group: its keys are invalid at once, its machines leave it, every connection that targets it needs fixing (R19)')
      .option('--yes', 'really delete (without --dry-run, deleting needs it)'),
  )
    .addHelpText('after', `
Examples:
  rekey group delete Lab --dry-run
  rekey group delete Lab --yes`)
    .action(async (name: string, options: GroupOptions) => {
      if (!options.dryRun && !options.yes) {
        throw new RekeyError('USAGE', `deleting ${name} invalidates its keys at once and breaks every connection that targets it: add --yes to delete it, or --dry-run to see what it would change`, {}, 'validation');
      }
      await runChange([{ command: 'deleteGroup', group: name }], options);
    });

  showSubcommand(group, {
    table: 'flowmachinegroups',
    noun: 'machine group',
    description: 'one group as of an instant: its row, its machines and the connections that target it or them',
    examples: ['rekey group show Finance', 'rekey group show Branch-Lyon --as-of 2030-09-01T00:00:00Z --json'],
  });
}
