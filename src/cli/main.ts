#!/usr/bin/env node
/**
 * The `rekey` command (docs/cli.md). Exit codes: 0 success; 1 a refused command or a failed check;
 * 2 bad usage or invalid input. Errors are one line `rekey: CODE: message` on stderr, or
 * `{"error": {"code", "message"}}` with --json.
 *
 * Start-up is kept cheap: only the module of the command being run is loaded (`rekey --version`
 * loads none, `rekey query` only what a query needs); `rekey --help` and `rekey` alone load them
 * all to list them.
 */
import { Command, CommanderError } from 'commander';
import { RekeyError } from '../kernel/errors.js';
import { reportError } from './output.js';

type Register = (program: Command) => void;

/** Every command, in the order `rekey --help` lists them, with the module that defines it. */
export const COMMANDS: readonly (readonly [string, () => Promise<Register>])[] = [
  ['simulate', async () => (await import('./commands/simulate.js')).simulateCommand],
  ['query', async () => (await import('./commands/query.js')).queryCommand],
  ['history', async () => (await import('./commands/history.js')).historyCommand],
  ['events', async () => (await import('./commands/events.js')).eventsCommand],
  ['replay', async () => (await import('./commands/replay.js')).replayCommand],
  ['watch', async () => (await import('./commands/watch.js')).watchCommand],
  ['serve', async () => (await import('./commands/serve.js')).serveCommand],
  ['readiness', async () => (await import('./commands/readiness.js')).readinessCommand],
  ['verify', async () => (await import('./commands/verify.js')).verifyCommand],
  ['import', async () => (await import('./commands/import.js')).importCommand],
  ['forecast', async () => (await import('./commands/forecast.js')).forecastCommand],
  ['whatif', async () => (await import('./commands/whatif.js')).whatifCommand],
  ['agent', async () => (await import('./commands/agent.js')).agentCommand],
  ['token', async () => (await import('./commands/token.js')).tokenCommand],
  ['group', async () => (await import('./commands/group.js')).groupCommand],
  ['machine', async () => (await import('./commands/machine.js')).machineCommand],
  ['connection', async () => (await import('./commands/connection.js')).connectionCommand],
  ['explain', async () => (await import('./commands/explain.js')).explainCommand],
  ['plan', async () => (await import('./commands/plan.js')).planCommand],
];

/**
 * The program with the commands that `argv` needs: the one it names, or every command when it names
 * none (help, a mistyped name: commander then lists them or suggests the nearest).
 */
export async function buildProgram(argv: readonly string[] = []): Promise<Command> {
  const program = new Command('rekey')
    .description('Event-sourced machine-group certificate renewal for Power Automate: simulate, query, audit, administer.')
    .version('0.1.0')
    .exitOverride()
    // Commander's own error lines are replaced by ours (one line, with a code); help goes to stdout.
    .configureOutput({ writeErr: () => undefined });
  const named = COMMANDS.find(([name]) => name === argv[0]);
  const wanted = named ? [named] : argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V') ? [] : COMMANDS;
  for (const register of await Promise.all(wanted.map(([, load]) => load()))) register(program);
  // Subcommands too (group create, ...): every parse error and --help ends through main's catch.
  const override = (command: Command) => {
    command.exitOverride();
    command.commands.forEach(override);
  };
  program.commands.forEach(override);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  try {
    const program = await buildProgram(argv);
    // `rekey` alone: the help, as `rekey --help` prints it (not an error).
    if (argv.length === 0) {
      process.stdout.write(program.helpInformation());
      return 0;
    }
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end through here too, with exit code 0.
      if (error.exitCode === 0) return 0;
      const message = `${error.message.replace(/^error: /, '')} (run 'rekey --help' or 'rekey <command> --help' for usage and examples)`;
      return reportError(new RekeyError('USAGE', message, {}, 'validation'), json);
    }
    return reportError(error, json);
  }
}

// `rekey events | head` closes the pipe early: that is the reader's choice, not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});
process.exitCode = await main(process.argv.slice(2));
