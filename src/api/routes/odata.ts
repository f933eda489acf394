/**
 * The tables through the Dataverse Web API's query surface, under /api/data/v9.2:
 * - GET /api/data/v9.2/                     the service document (the entity sets)
 * - GET /api/data/v9.2/<entityset>           $filter $select $orderby $top $count, paged
 * - GET /api/data/v9.2/<entityset>(<id>)     one row; also (name='NAME') as an alternate key
 * and rekey's time-travel extensions `asOf=ISO` and `position=N` on both.
 *
 * As in Dataverse: the response is {"@odata.context", "@odata.count"?, "value", "@odata.nextLink"?};
 * `Prefer: odata.maxpagesize=N` pages the result (default 5,000 rows a page) with a `$skiptoken`
 * link and answers `Preference-Applied`; `$top` switches paging off; formatted values
 * (`<column>@OData.Community.Display.V1.FormattedValue`) are returned only when
 * `Prefer: odata.include-annotations="OData.Community.Display.V1.FormattedValue"` (or "*") asks.
 *
 * A page link pins the log position the first page was read at, so the pages of one query never mix
 * two states of the tables even while the log grows.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { COLUMNS, ID_COLUMN, ROW_NOT_FOUND, TABLES, isTableName, type PointInTime, type Row, type TableName } from '../../../projections/index.js';
import { RekeyError } from '../../kernel/errors.js';
import { FORMATTED_VALUE_SUFFIX, runQuery } from '../../query/index.js';
import type { ApiContext } from '../context.js';
import { invalid, resourceNotFound } from '../errors.js';
import { pointInTime, single, type Query } from '../params.js';

export const ODATA_BASE = '/api/data/v9.2';
export const DEFAULT_PAGE_SIZE = 5000;
const MAX_PAGE_SIZE = 5000;
const FORMATTED_ANNOTATION = 'OData.Community.Display.V1.FormattedValue';
const SYSTEM_OPTIONS = new Set(['$filter', '$select', '$orderby', '$top', '$count', '$skiptoken']);

export interface Preferences {
  readonly maxPageSize?: number;
  /** The include-annotations value as given (echoed in Preference-Applied). */
  readonly includeAnnotations?: string;
  readonly formattedValues: boolean;
}

/** Reads the `Prefer` header(s): odata.maxpagesize and odata.include-annotations; others are ignored. */
export function parsePrefer(header: string | string[] | undefined): Preferences {
  const text = Array.isArray(header) ? header.join(',') : header ?? '';
  const size = /(?:^|[,;\s])odata\.maxpagesize\s*=\s*"?(\d{1,9})"?/i.exec(text);
  const annotations = /(?:^|[,;\s])odata\.include-annotations\s*=\s*"([^"]*)"/i.exec(text);
  const maxPageSize = size ? Number(size[1]) : undefined;
  const includeAnnotations = annotations ? annotations[1]! : undefined;
  const patterns = (includeAnnotations ?? '').split(',').map((p) => p.trim()).filter(Boolean);
  const formattedValues = patterns.some((pattern) => {
    if (pattern.startsWith('-')) return false;
    if (pattern === '*') return true;
    if (pattern.endsWith('.*')) return FORMATTED_ANNOTATION.startsWith(pattern.slice(0, -1));
    return pattern === FORMATTED_ANNOTATION;
  }) && !patterns.includes(`-${FORMATTED_ANNOTATION}`);
  return {
    ...(maxPageSize !== undefined && maxPageSize > 0 ? { maxPageSize: Math.min(maxPageSize, MAX_PAGE_SIZE) } : {}),
    ...(includeAnnotations !== undefined ? { includeAnnotations } : {}),
    formattedValues,
  };
}

/** A row without its formatted values (what Dataverse returns when none were asked for). */
export function withoutFormattedValues(row: Row): Row {
  const out: Row = {};
  for (const key of Object.keys(row)) if (!key.endsWith(FORMATTED_VALUE_SUFFIX)) out[key] = row[key];
  return out;
}

interface SkipToken {
  /** Rows already returned. */
  readonly o: number;
  /** The log position the first page was read at (absent when the query named asOf or position). */
  readonly p?: number;
}

function encodeToken(token: SkipToken): string {
  return Buffer.from(JSON.stringify(token)).toString('base64url');
}

function decodeToken(text: string): SkipToken {
  try {
    const token = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as SkipToken;
    if (Number.isSafeInteger(token.o) && token.o >= 0 && (token.p === undefined || (Number.isSafeInteger(token.p) && token.p >= 0))) return token;
  } catch {
    // reported below
  }
  throw invalid('$skiptoken is not a token this server issued; follow @odata.nextLink as given', {});
}

/** `http://host:port`, as the client addressed the server. */
export function originOf(request: FastifyRequest): string {
  const host = request.headers.host ?? `${request.hostname}`;
  return `${request.protocol}://${host}`;
}

function requireEntitySet(name: string): TableName {
  if (isTableName(name)) return name;
  throw resourceNotFound(`Resource not found for the segment '${name}'; the entity sets are: ${TABLES.join(', ')}`, { segment: name });
}

type Key = { readonly id: string } | { readonly name: string };

/** `(id)`, `('id')` or `(name='NAME')`, with '' for a quote inside quotes. */
function parseKey(text: string): Key {
  const quoted = (value: string) => value.slice(1, -1).replace(/''/g, "'");
  const named = /^\s*name\s*=\s*('(?:[^']|'')*')\s*$/.exec(text);
  if (named) return { name: quoted(named[1]!) };
  if (/^'(?:[^']|'')*'$/.test(text)) return { id: quoted(text) };
  if (/^[^'()=,]+$/.test(text)) return { id: text.trim() };
  throw invalid(`the key (${text.slice(0, 100)}) is neither an id nor name='NAME'`, {});
}

function checkOptions(query: Query, allowed: ReadonlySet<string>): void {
  for (const name of Object.keys(query)) {
    if (name.startsWith('$') && !allowed.has(name)) {
      const known = [...allowed].join(', ');
      throw invalid(`the query option ${name} is not supported here; supported: ${known}`, { option: name });
    }
  }
}

function contextUrl(origin: string, table: TableName, select: string | undefined, entity: boolean): string {
  const columns = select === undefined ? '' : `(${select.split(',').map((c) => c.trim()).filter(Boolean).join(',')})`;
  return `${origin}${ODATA_BASE}/$metadata#${table}${columns}${entity ? '/$entity' : ''}`;
}

function applied(preferences: Preferences, pageSize: number | null): string | undefined {
  const parts: string[] = [];
  if (preferences.includeAnnotations !== undefined) parts.push(`odata.include-annotations="${preferences.includeAnnotations}"`);
  if (pageSize !== null && preferences.maxPageSize !== undefined) parts.push(`odata.maxpagesize=${pageSize}`);
  return parts.length > 0 ? parts.join(',') : undefined;
}

async function collection(ctx: ApiContext, request: FastifyRequest, reply: FastifyReply, table: TableName): Promise<unknown> {
  const query = request.query as Query;
  checkOptions(query, SYSTEM_OPTIONS);
  const preferences = parsePrefer(request.headers.prefer);
  const options = {
    table,
    columns: COLUMNS[table],
    filter: single(query, '$filter'),
    select: single(query, '$select'),
    orderby: single(query, '$orderby'),
    top: single(query, '$top'),
    count: single(query, '$count'),
  };
  runQuery({ ...options, rows: [] }); // every option is checked before any event is read
  const tokenText = single(query, '$skiptoken');
  const token = tokenText === undefined ? null : decodeToken(tokenText);
  let point: PointInTime = pointInTime(query);
  const pinned = point.asOf === undefined && point.position === undefined;
  if (pinned && token?.p !== undefined) point = { position: token.p };
  const snapshot = await ctx.tables(point);
  const result = runQuery({ ...options, rows: snapshot.tables[table] });

  // $top switches paging off, as in Dataverse; otherwise pages of maxpagesize (default 5,000).
  const pageSize = options.top !== undefined ? null : preferences.maxPageSize ?? DEFAULT_PAGE_SIZE;
  const offset = token?.o ?? 0;
  const rows = pageSize === null ? result.value.slice(offset) : result.value.slice(offset, offset + pageSize);
  const body: Record<string, unknown> = { '@odata.context': contextUrl(originOf(request), table, options.select, false) };
  if (result.count !== undefined) body['@odata.count'] = result.count;
  body.value = preferences.formattedValues ? rows : rows.map(withoutFormattedValues);
  if (pageSize !== null && offset + pageSize < result.value.length) {
    const next = new URLSearchParams();
    for (const [name, value] of Object.entries(query)) {
      if (name === '$skiptoken' || value === undefined) continue;
      for (const item of Array.isArray(value) ? value : [value]) next.append(name, item);
    }
    next.append('$skiptoken', encodeToken(pinned ? { o: offset + pageSize, p: snapshot.position } : { o: offset + pageSize }));
    body['@odata.nextLink'] = `${originOf(request)}${ODATA_BASE}/${table}?${next.toString().replace(/\+/g, '%20').replace(/%24/g, '$')}`;
  }
  const preferenceApplied = applied(preferences, pageSize);
  if (preferenceApplied) void reply.header('Preference-Applied', preferenceApplied);
  return body;
}

async function entity(ctx: ApiContext, request: FastifyRequest, reply: FastifyReply, table: TableName, keyText: string): Promise<unknown> {
  const query = request.query as Query;
  checkOptions(query, new Set(['$select']));
  const preferences = parsePrefer(request.headers.prefer);
  const select = single(query, '$select');
  runQuery({ table, columns: COLUMNS[table], rows: [], select });
  const key = parseKey(keyText);
  const snapshot = await ctx.tables(pointInTime(query));
  const idColumn = ID_COLUMN[table];
  const row = 'id' in key
    ? snapshot.tables[table].find((r) => String(r[idColumn]).toLowerCase() === key.id.toLowerCase())
    : snapshot.tables[table].find((r) => r.name === key.name) ?? snapshot.tables[table].find((r) => String(r.name).toLowerCase() === key.name.toLowerCase());
  if (!row) {
    const what = 'id' in key ? `the id ${JSON.stringify(key.id)}` : `the name ${JSON.stringify(key.name)}`;
    throw new RekeyError(ROW_NOT_FOUND, `no row of ${table} has ${what} as of position ${snapshot.position}`, { table }, 'not_found');
  }
  const [selected] = runQuery({ table, columns: COLUMNS[table], rows: [row], select }).value;
  const preferenceApplied = applied(preferences, null);
  if (preferenceApplied) void reply.header('Preference-Applied', preferenceApplied);
  return {
    '@odata.context': contextUrl(originOf(request), table, select, true),
    ...(preferences.formattedValues ? selected : withoutFormattedValues(selected!)),
  };
}

export function odataRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const serviceDocument = async (request: FastifyRequest, reply: FastifyReply) => {
    void reply.header('OData-Version', '4.0');
    return {
      '@odata.context': `${originOf(request)}${ODATA_BASE}/$metadata`,
      value: TABLES.map((name) => ({ name, kind: 'EntitySet', url: name })),
    };
  };
  app.get(ODATA_BASE, serviceDocument);
  app.get(`${ODATA_BASE}/`, serviceDocument);
  app.get(`${ODATA_BASE}/:segment`, async (request, reply) => {
    const { segment } = request.params as { segment: string };
    void reply.header('OData-Version', '4.0');
    const match = /^([^()]+)(?:\((.*)\))?$/s.exec(segment);
    if (!match) throw resourceNotFound(`Resource not found for the segment '${segment.slice(0, 100)}'; the entity sets are: ${TABLES.join(', ')}`, {});
    const table = requireEntitySet(match[1]!);
    return match[2] === undefined ? collection(ctx, request, reply, table) : entity(ctx, request, reply, table, match[2]);
  });
}
