/**
 * POST /api/commands/<name>: the admin commands as JSON endpoints, each body checked against its JSON
 * schema first (a bad body is 400 REQUEST_INVALID naming the field and the reason). The answer is the
 * events the command recorded, once the tables show them (a GET right after sees the change).
 *
 * createConnection and fixConnection take the plaintext credentials, as the portal's form does, and
 * encrypt them at once to the target's live keys (src/engine/portal.ts): the plaintext never reaches
 * the engine, the log, the tables, a log line or an error message. Over plain HTTP it crosses the wire
 * in the clear, so it is then accepted only from a loopback address (CREDENTIALS_REQUIRE_LOOPBACK
 * otherwise); over HTTPS from anywhere.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { RekeyError, isRekeyError } from '../../kernel/errors.js';
import { MAX_NAME_LENGTH, NAME_PATTERN } from '../../domain/names.js';
import type { CommandOptions } from '../../engine/engine.js';
import { createConnection, fixConnection } from '../../engine/portal.js';
import type { RecordedEvent } from '../../store/port.js';
import { executeAdminCommand } from '../../admin/commands.js';
import { eventView } from '../../admin/eventView.js';
import { callerOf } from '../auth/access.js';
import type { ApiContext } from '../context.js';
import { CREDENTIALS_REQUIRE_LOOPBACK, invalid, resourceNotFound } from '../errors.js';

/** The names rule (src/domain/names.ts): a refusal names the offending character, see errors.ts. */
const NAME = { type: 'string', minLength: 1, maxLength: MAX_NAME_LENGTH, pattern: NAME_PATTERN.source } as const;
const MINUTES = { type: 'integer' } as const;
const SECRET = { type: 'string', minLength: 1, maxLength: 10_000 } as const;
const COMMAND_ID = { type: 'string', minLength: 1, maxLength: 200 } as const;

const object = (properties: Record<string, unknown>, required: string[]) => ({
  type: 'object',
  properties: { ...properties, commandId: COMMAND_ID },
  required,
  additionalProperties: false,
});

export const COMMAND_SCHEMAS = {
  createGroup: object({ name: NAME, keyValidityPeriod: MINUTES, keyExpiryGracePeriod: MINUTES, proactiveReencryption: { type: 'boolean' } }, ['name']),
  setKeyValidityPeriod: object({ group: NAME, minutes: MINUTES }, ['group', 'minutes']),
  setKeyExpiryGracePeriod: object({ group: NAME, minutes: MINUTES }, ['group', 'minutes']),
  setProactiveReencryption: object({ group: NAME, enabled: { type: 'boolean' } }, ['group', 'enabled']),
  deleteGroup: object({ group: NAME }, ['group']),
  removeMachine: object({ group: NAME, machine: NAME }, ['machine']),
  createConnection: object({ name: NAME, group: NAME, machine: NAME, username: SECRET, password: SECRET }, ['name', 'username', 'password']),
  fixConnection: object({ connection: NAME, username: SECRET, password: SECRET }, ['connection', 'username', 'password']),
  processDue: object({}, []),
} as const;

export type CommandName = keyof typeof COMMAND_SCHEMAS;

/** 127.0.0.0/8, ::1 and IPv4-mapped loopback. */
export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return v4.startsWith('127.') || address === '::1';
}

interface EventSummary {
  readonly position: number;
  readonly stream: string;
  readonly type: string;
  readonly occurredAt: string;
  /** The event's data with its opaque parts (ciphertexts, packages, wrapped keys, certificates) omitted. */
  readonly data: Record<string, unknown>;
}

/** What a command answers: the events, without their opaque payloads (ciphertexts, packages). */
function summarize(events: readonly RecordedEvent[]): EventSummary[] {
  return events.map((event) => ({ position: event.position, stream: event.stream, type: event.type, occurredAt: event.metadata.occurredAt, data: eventView(event).data }));
}

type Body = Record<string, unknown>;

export function commandRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const engine = ctx.engine;
  const handlers: Record<CommandName, (body: Body, options: CommandOptions, request: FastifyRequest) => Promise<RecordedEvent[]>> = {
    createGroup: (body, options) => engine.createGroup({
      name: body.name as string,
      ...(body.keyValidityPeriod !== undefined ? { keyValidityPeriod: body.keyValidityPeriod as number } : {}),
      ...(body.keyExpiryGracePeriod !== undefined ? { keyExpiryGracePeriod: body.keyExpiryGracePeriod as number } : {}),
      ...(body.proactiveReencryption !== undefined ? { proactiveReencryption: body.proactiveReencryption as boolean } : {}),
    }, options),
    setKeyValidityPeriod: (body, options) => engine.setKeyValidityPeriod(body.group as string, body.minutes as number, options),
    setKeyExpiryGracePeriod: (body, options) => engine.setKeyExpiryGracePeriod(body.group as string, body.minutes as number, options),
    setProactiveReencryption: (body, options) => engine.setProactiveReencryption(body.group as string, body.enabled as boolean, options),
    deleteGroup: (body, options) => engine.deleteGroup(body.group as string, options),
    // The group may be named; without it the machine's membership says which (the admin CLI's form).
    removeMachine: (body, options) => body.group !== undefined
      ? engine.removeMachine(body.group as string, body.machine as string, options)
      : executeAdminCommand(engine, { command: 'removeMachine', machine: body.machine as string }, options),
    createConnection: (body, options, request) => {
      requireLoopback(request);
      const hasGroup = body.group !== undefined;
      if (hasGroup === (body.machine !== undefined)) throw invalid('body needs exactly one of group and machine: the connection targets a machine group or one machine', { field: 'group' });
      const target = hasGroup ? { type: 'group' as const, name: body.group as string } : { type: 'machine' as const, name: body.machine as string };
      return createConnection(engine, body.name as string, target, { username: body.username as string, password: body.password as string }, options);
    },
    fixConnection: (body, options, request) => {
      requireLoopback(request);
      return fixConnection(engine, body.connection as string, { username: body.username as string, password: body.password as string }, options);
    },
    processDue: (_body, options) => engine.processDue(options),
  };

  for (const name of Object.keys(COMMAND_SCHEMAS) as CommandName[]) {
    app.post(`/api/commands/${name}`, {
      schema: { body: COMMAND_SCHEMAS[name] },
      // No body at all reads as {}: processDue needs none, and the others then name their first missing field.
      preValidation: async (request) => {
        if (request.body === undefined || request.body === null) request.body = {};
      },
    }, async (request) => {
      const body = (request.body ?? {}) as Body;
      // Every command records who issued it (an actor id, never the token; docs/api.md).
      const actor = callerOf(request)?.actor;
      const options: CommandOptions = { ...(typeof body.commandId === 'string' ? { commandId: body.commandId } : {}), ...(actor !== undefined ? { actor } : {}) };
      const events = await ctx.serialize(() => handlers[name](body, options, request));
      const last = events.at(-1);
      if (last) await ctx.readModel.waitFor(last.position).catch((error: unknown) => {
        throw recordedButNotShown(events, error);
      });
      return { command: name, events: summarize(events), position: await ctx.store.headPosition() };
    });
  }
  // A command the server does not know: say which ones it does.
  app.post('/api/commands/:name', async (request) => {
    const { name } = request.params as { name: string };
    throw resourceNotFound(`unknown command ${JSON.stringify(name.slice(0, 100))}; the commands are: ${Object.keys(COMMAND_SCHEMAS).join(', ')}`, { command: name.slice(0, 100) });
  });
}

/**
 * The command is durable but the tables could not catch up (a full disk under the read model, ...):
 * the answer keeps the cause's code and status and says that the events are recorded, so that the
 * client knows a retry with the same commandId records nothing twice.
 */
function recordedButNotShown(events: readonly RecordedEvent[], error: unknown): unknown {
  if (!isRekeyError(error)) return error;
  const where = events.length === 1 ? `position ${events[0]!.position}` : `positions ${events[0]!.position} to ${events.at(-1)!.position}`;
  return new RekeyError(
    error.code,
    `the command was recorded (${events.length} ${events.length === 1 ? 'event' : 'events'} at ${where}), but the tables could not be brought up to date: ${error.message}`,
    { ...error.details, recorded: events.map((event) => event.position) },
    error.kind,
  );
}

/** Over HTTPS the credentials are encrypted on the wire, so any (admin) caller may send them. */
function requireLoopback(request: FastifyRequest): void {
  if (!isLoopback(request.socket.remoteAddress) && request.protocol !== 'https') {
    throw new RekeyError(
      CREDENTIALS_REQUIRE_LOOPBACK,
      'plaintext credentials are accepted over plain HTTP only from the loopback interface; run the request on the server\'s own machine, or serve HTTPS (--tls-cert, --tls-key)',
      {},
      'refused',
    );
  }
}
