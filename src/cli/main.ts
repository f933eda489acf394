#!/usr/bin/env node
/**
 * The `rekey` command (docs/contract.md, section 4). Exit codes: 0 success; 1 a refused command or a failed
 * check; 2 bad usage or invalid input. Errors are one line `rekey: CODE: message` on stderr, or
 * `{"error": {"code", "message"}}` with --json.
 */
import { Command, CommanderError } from 'commander';
import { RekeyError } from '../kernel/errors.js';
import { agentCommand } from './commands/agent.js';
import { eventsCommand } from './commands/events.js';
import { historyCommand } from './commands/history.js';
import { importCommand } from './commands/import.js';
import { forecastCommand } from './commands/forecast.js';
import { whatifCommand } from './commands/whatif.js';
import { queryCommand } from './commands/query.js';
import { readinessCommand } from './commands/readiness.js';
import { replayCommand } from './commands/replay.js';
import { serveCommand } from './commands/serve.js';
import { watchCommand } from './commands/watch.js';
import { simulateCommand } from './commands/simulate.js';
import { verifyCommand } from './commands/verify.js';
import { tokenCommand } from './commands/token.js';
import { reportError } from './output.js';

export function buildProgram(): Command {
  const program = new Command('rekey')
    .description('Event-sourced machine-group certificate renewal for Power Automate: simulate, query, audit.')
    .version('0.1.0')
    .exitOverride()
    // Commander's own error lines are replaced by ours (one line, with a code); help goes to stdout.
    .configureOutput({ writeErr: () => undefined });
  simulateCommand(program);
  queryCommand(program);
  historyCommand(program);
  eventsCommand(program);
  replayCommand(program);
  watchCommand(program);
  serveCommand(program);
  readinessCommand(program);
  verifyCommand(program);
  importCommand(program);
  forecastCommand(program);
  whatifCommand(program);
  agentCommand(program);
  tokenCommand(program);
  for (const command of program.commands) command.exitOverride();
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  try {
    await buildProgram().parseAsync(argv, { from: 'user' });
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
