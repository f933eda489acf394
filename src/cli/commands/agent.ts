/**
 * `rekey agent --server URL --name NAME [--keystore FILE] [--once]`: the machine side as a process
 * (docs/operations.md). It joins its group (the group password from REKEY_GROUP_PASSWORD, standard
 * input or a prompt; never the command line), checks in every interval of service time, takes or
 * issues renewal keys, runs connections on request, and rejoins with --rejoin. Its key store is a
 * file of its own, encrypted under the machine passphrase (REKEY_MACHINE_PASSPHRASE or a prompt).
 * stdout carries one line per thing it did (a JSON object each with --json).
 */
import type { Command } from 'commander';
import { checkName } from '../../domain/names.js';
import { parseAgentVersion } from '../../domain/agentVersion.js';
import { DEFAULT_AGENT_VERSION, runAgent, type AgentEvent } from '../../remote/agentProcess.js';
import { secretFrom } from '../../remote/secretInput.js';
import { ARGUMENT_INVALID, RekeyError } from '../../kernel/errors.js';
import { parseInteger } from '../arguments.js';
import { printLine } from '../output.js';

interface AgentOptions {
  server: string;
  name: string;
  group?: string;
  keystore?: string;
  once?: boolean;
  rejoin?: boolean;
  regeneratePassword?: boolean;
  intervalMinutes?: string;
  pollSeconds?: string;
  agentVersion?: string;
  json?: boolean;
}

export function defaultKeystoreFile(name: string): string {
  return `./data/agent-${name.replace(/[^\p{L}\p{N}._-]/gu, '_')}.keystore`;
}

function describe(event: AgentEvent): string {
  const { event: kind, ...rest } = event;
  return [kind, ...Object.entries(rest).map(([key, value]) => `${key}=${Array.isArray(value) ? value.join(',') : String(value)}`)].join(' ');
}

export function agentCommand(program: Command): void {
  program
    .command('agent')
    .description('run the machine agent: join a group, check in, take or issue renewal keys, run connections')
    .requiredOption('--server <url>', 'the rekey service, e.g. http://127.0.0.1:8080')
    .requiredOption('--name <name>', 'this machine\'s name')
    .option('--group <group>', 'the machine group to join (needed until the key store records one)')
    .option('--keystore <file>', 'this machine\'s key store file (default: ./data/agent-<name>.keystore)')
    .option('--once', 'check in once (after joining or rejoining) and exit')
    .option('--rejoin', 'rejoin the group with its regenerated password (after KeyExpired), then carry on')
    .option('--regenerate-password', 'publish the primary key under a new group password (REKEY_NEW_GROUP_PASSWORD, stdin or prompt) and exit')
    .option('--interval-minutes <n>', 'service-clock minutes between check-ins', '1440')
    .option('--poll-seconds <s>', 'real seconds between polls for runs between check-ins', '5')
    .option('--agent-version <v>', 'the Power Automate for desktop version to report', DEFAULT_AGENT_VERSION)
    .option('--json', 'one JSON object per line for each thing the agent does')
    .addHelpText('after', `
Secrets (never on the command line):
  group password     REKEY_GROUP_PASSWORD, else the first line of standard input, else a prompt
  new password       REKEY_NEW_GROUP_PASSWORD, else standard input, else a prompt (--regenerate-password)
  machine passphrase REKEY_MACHINE_PASSPHRASE, else a prompt (it encrypts the key store file)

Examples:
  REKEY_MACHINE_PASSPHRASE=... rekey agent --server http://127.0.0.1:8080 --name FIN-01 --group Finance
  rekey agent --server http://127.0.0.1:8080 --name FIN-03 --rejoin < new-password.txt
  rekey agent --server http://127.0.0.1:8080 --name FIN-01 --regenerate-password`)
    .action(async (options: AgentOptions) => {
      const name = checkName(options.name, 'machine name');
      if (options.group !== undefined) checkName(options.group, 'machine group name');
      parseAgentVersion(options.agentVersion ?? DEFAULT_AGENT_VERSION);
      if (options.rejoin && options.regeneratePassword) {
        throw new RekeyError('USAGE', '--rejoin and --regenerate-password are separate steps (on different machines): give one of them', {}, 'validation');
      }
      const pollSeconds = Number(options.pollSeconds ?? '5');
      if (!/^\d+(\.\d+)?$/.test(options.pollSeconds ?? '5') || !(pollSeconds >= 0.01 && pollSeconds <= 3600)) {
        throw new RekeyError(ARGUMENT_INVALID, `--poll-seconds ${JSON.stringify(options.pollSeconds)} is not a number of seconds from 0.01 to 3600`, {}, 'validation');
      }
      const controller = new AbortController();
      const stop = () => {
        if (controller.signal.aborted) process.exit(130);
        controller.abort();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
      try {
        await runAgent({
          server: options.server,
          name,
          group: options.group,
          keystoreFile: options.keystore ?? defaultKeystoreFile(name),
          machinePassphrase: secretFrom({ what: 'machine passphrase', env: 'REKEY_MACHINE_PASSPHRASE', stdin: false }),
          groupPassword: secretFrom({ what: 'group password', env: 'REKEY_GROUP_PASSWORD', stdin: true }),
          newGroupPassword: secretFrom({ what: 'new group password', env: 'REKEY_NEW_GROUP_PASSWORD', stdin: true, confirm: true }),
          agentVersion: options.agentVersion,
          intervalMinutes: parseInteger('--interval-minutes', options.intervalMinutes ?? '1440', 1, 525_600),
          pollSeconds,
          once: options.once,
          rejoin: options.rejoin,
          regeneratePassword: options.regeneratePassword,
          log: (event) => printLine(options.json ? JSON.stringify(event) : describe(event)),
          signal: controller.signal,
        });
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
    });
}
