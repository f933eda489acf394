/**
 * `rekey connection create|fix|run|show`: desktop flow connections on a live store or service. The
 * credentials are read from --credentials-file, standard input or a prompt (never an argument) and
 * encrypted at once to the target's live keys (R14, R18); through --server they travel to the
 * service, which accepts them only on its loopback interface and encrypts them there.
 */
import type { Command } from 'commander';
import { withChangeOptions, type ChangeOptions } from '../adminOptions.js';
import { readCredential } from '../credentialInput.js';
import { showSubcommand } from '../showRow.js';
import { runChange } from './group.js';

interface ConnectionOptions extends ChangeOptions {
  group?: string;
  machine?: string;
  credentialsFile?: string;
}

const CREDENTIALS_HELP = `
Credentials (never on the command line): --credentials-file FILE, else standard input, else a prompt
(the password is not echoed). The text is the username on the first line and the password on the
second, or {"username": "...", "password": "..."}. A --dry-run needs none.`;

export function connectionCommand(program: Command): void {
  const connection = program.command('connection').description('desktop flow connections on a live store or service: create, fix, run, show');
  // `rekey connection` alone: its help on stdout, like `rekey` alone.
  connection.action(() => {
    process.stdout.write(connection.helpInformation());
  });

  withChangeOptions(
    connection
      .command('create')
      .argument('<name>', 'the new connection\'s name')
      .description('create a connection to a machine group or one machine, its credentials encrypted to the target\'s live keys (R14)')
      .option('--group <group>', 'the machine group it targets')
      .option('--machine <machine>', 'the one machine it targets (instead of --group)')
      .option('--credentials-file <file>', 'the username and password, one per line (or JSON); default: standard input or a prompt'),
  )
    .addHelpText('after', `${CREDENTIALS_HELP}

Examples:
  rekey connection create Invoices --group Finance --credentials-file ./invoices.cred
  printf 'CONTOSO\\\\svc-invoices\\n%s\\n' "$PASSWORD" | rekey connection create Invoices --group Finance
  rekey connection create Desk --machine HR-01 --dry-run`)
    .action(async (name: string, options: ConnectionOptions) => {
      await runChange([{ command: 'createConnection', name, ...(options.group !== undefined ? { group: options.group } : {}), ...(options.machine !== undefined ? { machine: options.machine } : {}) }], options, () => readCredential(options.credentialsFile));
    });

  withChangeOptions(
    connection
      .command('fix')
      .argument('<name>', 'the connection')
      .description('fix a connection ("Fix connection"): re-enter its credentials, encrypted to the target\'s live keys (R18)')
      .option('--credentials-file <file>', 'the username and password, one per line (or JSON); default: standard input or a prompt'),
  )
    .addHelpText('after', `${CREDENTIALS_HELP}

Examples:
  rekey connection fix Invoices --credentials-file ./invoices.cred
  rekey connection fix Invoices --dry-run --json`)
    .action(async (name: string, options: ConnectionOptions) => {
      await runChange([{ command: 'fixConnection', connection: name }], options, () => readCredential(options.credentialsFile));
    });

  withChangeOptions(
    connection
      .command('run')
      .argument('<name>', 'the connection')
      .description('run a connection once on a machine of its target; during a renewal the run re-encrypts it to the new key (R14)'),
  )
    .addHelpText('after', `
A run decrypts the credentials on a machine, so it goes through the service the machines' agents
talk to (--server): the run waits there for the first machine of the target that holds a key the
credentials are encrypted to. On a store opened directly, --dry-run shows what the first online
member able to run it would record. A connection that needs fixing cannot run (exit 1).

Examples:
  rekey connection run Invoices --server http://127.0.0.1:8080
  rekey connection run Invoices --dry-run --db ./data/rekey.db`)
    .action(async (name: string, options: ChangeOptions) => {
      await runChange([{ command: 'runConnection', connection: name }], options);
    });

  showSubcommand(connection, {
    table: 'desktopflowconnections',
    noun: 'connection',
    description: 'one connection as of an instant: its row and the machines of its target',
    examples: ['rekey connection show Invoices', 'rekey connection show Quarterly-Report --as-of 2030-09-01T00:00:00Z --json'],
  });
}
