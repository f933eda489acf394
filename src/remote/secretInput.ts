/**
 * Where the agent's secrets come from: an environment variable, standard input (its first line, when
 * it is not a terminal), or a prompt on the terminal with the typing hidden. Never from the command
 * line, where every user of the machine could read them in the process list.
 */
import { RekeyError, errorKind } from '../kernel/errors.js';

export const SECRET_REQUIRED = errorKind('SECRET_REQUIRED', 'validation');

export interface SecretSource {
  /** What is asked for, for prompts and errors: "group password". */
  readonly what: string;
  /** Environment variable that may hold it. */
  readonly env: string;
  /** May it be read from standard input when that is not a terminal? */
  readonly stdin: boolean;
  /** On a terminal, ask twice and insist on the same answer (a new password). */
  readonly confirm?: boolean;
}

let stdinText: Promise<string> | null = null;

function readAllStdin(): Promise<string> {
  stdinText ??= new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    process.stdin.on('data', (chunk: Buffer) => chunks.push(chunk));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    process.stdin.on('error', reject);
  });
  return stdinText;
}

/** A secret from its environment variable, standard input or a hidden prompt; asked once, then remembered. */
export function secretFrom(source: SecretSource, env: Readonly<Record<string, string | undefined>> = process.env): () => Promise<string> {
  let cached: Promise<string> | null = null;
  return () => (cached ??= read(source, env));
}

async function read(source: SecretSource, env: Readonly<Record<string, string | undefined>>): Promise<string> {
  const fromEnv = env[source.env];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  if (process.stdin.isTTY) {
    const first = await promptHidden(`${source.what}: `);
    if (source.confirm && (await promptHidden(`${source.what} again: `)) !== first) {
      throw new RekeyError(SECRET_REQUIRED, `the two ${source.what}s typed differ`, {}, 'validation');
    }
    if (first !== '') return first;
  } else if (source.stdin) {
    const line = (await readAllStdin()).split(/\r?\n/)[0] ?? '';
    if (line !== '') return line;
  }
  const ways = [`set ${source.env}`, ...(source.stdin ? ['pipe it on standard input'] : []), 'run on a terminal to be asked'];
  throw new RekeyError(SECRET_REQUIRED, `no ${source.what} given: ${ways.join(', or ')} (never on the command line)`, {}, 'validation');
}

/** Reads one line from the terminal without echoing it. */
export function promptHidden(question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(question);
    stdin.setRawMode(true);
    stdin.resume();
    let typed = '';
    const finish = (error?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (error) reject(error);
      else resolve(typed);
    };
    const onData = (data: Buffer) => {
      for (const char of data.toString('utf8')) {
        if (char === '\r' || char === '\n' || char === '\u0004') return finish();
        if (char === '\u0003') return finish(new RekeyError(SECRET_REQUIRED, `${question.replace(/: $/, '')} not given (interrupted)`, {}, 'validation'));
        if (char === '\u007f' || char === '\b') typed = [...typed].slice(0, -1).join('');
        else typed += char;
      }
    };
    stdin.on('data', onData);
  });
}
