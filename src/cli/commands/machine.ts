/** `rekey machine remove|show`: a machine on a live store or service (R9; R15, R17 in show). */
import type { Command } from 'commander';
import { withChangeOptions, type ChangeOptions } from '../adminOptions.js';
import { showSubcommand } from '../showRow.js';
import { runChange } from './group.js';

export function machineCommand(program: Command): void {
  const machine = program.command('machine').description('machines on a live store or service: remove one from its group, show one');
  // `rekey machine` alone: its help on stdout, like `rekey` alone.
  machine.action(() => {
    process.stdout.write(machine.helpInformation());
  });

  withChangeOptions(
    machine
      .command('remove')
      .argument('<name>', 'the machine')
      .description('remove a machine from its machine group (it then does nothing in the group\'s life, R9); it can join again with the group password'),
  )
    .addHelpText('after', `
Examples:
  rekey machine remove FIN-02 --dry-run
  rekey machine remove FIN-02 --server http://127.0.0.1:8080 --json`)
    .action(async (name: string, options: ChangeOptions) => {
      await runChange([{ command: 'removeMachine', machine: name }], options);
    });

  showSubcommand(machine, {
    table: 'flowmachines',
    noun: 'machine',
    description: 'one machine as of an instant: its row, its group and the connections that can run on it',
    examples: ['rekey machine show HR-04', 'rekey machine show LYO-03 --as-of 2030-09-01T00:00:00Z --json'],
  });
}
