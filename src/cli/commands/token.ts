/**
 * `rekey token create|list|revoke`: the bearer tokens of the HTTP API (src/api/auth). A token is shown
 * once, by `create`; the auth file keeps only its SHA-256.
 */
import type { Command } from 'commander';
import { createToken, listTokens, revokeToken, type TokenInfo } from '../../api/auth/tokenRegistry.js';
import { authFileOf, withAuthFileOption, type AuthFileOptions } from '../authFileOption.js';
import { alignedTable, printJson, printLine } from '../output.js';
import { withStoreOptions } from '../storeOptions.js';

interface TokenOptions extends AuthFileOptions {
  json?: boolean;
}

const withFileOptions = (command: Command) => withAuthFileOption(withStoreOptions(command));

function printInfos(infos: readonly TokenInfo[]): void {
  printLine(alignedTable(['id', 'name', 'role', 'created', 'revoked'], infos.map((t) => [t.id, t.name, t.role, t.createdAt, t.revokedAt ?? '-'])));
}

export function tokenCommand(program: Command): void {
  const token = program
    .command('token')
    .description('bearer tokens for the HTTP API: create (shown once), list, revoke')
    .addHelpText('after', `
Roles: reader (OData tables, history, timeline, reminders, change feed, metrics); admin (commands and
webhook subscriptions, and everything a reader may). Clients send 'Authorization: Bearer <token>'.
While the auth file holds no token, 'rekey serve' on 127.0.0.1 answers everyone on this machine; once
it holds one, every API request needs a token. See docs/api.md.

Examples:
  rekey token create --role reader --name prometheus --db /srv/rekey.db > /etc/prometheus/rekey.token
  rekey token list --db /srv/rekey.db
  rekey token revoke tk_3f9a1c2b7d4e --db /srv/rekey.db`);

  withFileOptions(
    token
      .command('create')
      .description('create a token and print it once on stdout (only its hash is kept)')
      .requiredOption('--role <role>', 'admin or reader')
      .option('--name <name>', 'who or what holds it, shown by list (default: the role)')
      .option('--json', 'print {"id", "name", "role", "createdAt", "revokedAt", "token"}'),
  ).action((options: TokenOptions & { role: string; name?: string }) => {
    const file = authFileOf(options, true)!;
    const created = createToken(file, { role: options.role, ...(options.name !== undefined ? { name: options.name } : {}), now: new Date() });
    if (options.json) printJson({ ...created.info, token: created.token });
    else {
      printLine(created.token);
      process.stderr.write(`rekey: created token ${created.info.id} (${created.info.name}, role ${created.info.role}) in ${file}; it is shown only now: store it where its user reads it\n`);
    }
  });

  withFileOptions(
    token
      .command('list')
      .description('every token: id, name, role, when created and revoked (never the token)')
      .option('--json', 'print [{"id", "name", "role", "createdAt", "revokedAt"}]'),
  ).action((options: TokenOptions) => {
    const infos = listTokens(authFileOf(options, true)!);
    if (options.json) printJson(infos);
    else printInfos(infos);
  });

  withFileOptions(
    token
      .command('revoke')
      .description('revoke a token by its id: every server of the store refuses it from its next request on')
      .argument('<id>', 'the token id (tk_...), as list shows it')
      .option('--json', 'print the revoked token\'s {"id", "name", "role", "createdAt", "revokedAt"}'),
  ).action((id: string, options: TokenOptions) => {
    const info = revokeToken(authFileOf(options, true)!, id, new Date());
    if (options.json) printJson(info);
    else printInfos([info]);
  });
}
