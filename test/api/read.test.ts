/**
 * The read side over HTTP on a simulated fleet (examples/healthy-fleet.json: Finance and HR, fifteen
 * years of renewals): OData in Dataverse's shape with paging and formatted values, time travel, row
 * history, timelines, reminders, metrics, the dashboard page, and the errors every read can give.
 */
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryTable, rowHistory, tablesAt } from '../../projections/index.js';
import { isLoopback } from '../../src/api/routes/commands.js';
import { getJson, servedExample, type Fixture, type JsonResponse } from './support/fixtures.js';

const FV = '@OData.Community.Display.V1.FormattedValue';
const ANNOTATIONS = { prefer: 'odata.include-annotations="OData.Community.Display.V1.FormattedValue"' };
const hasFormatted = (row: Record<string, unknown>) => Object.keys(row).some((key) => key.endsWith(FV));

let fx: Fixture;
let api: string;

beforeAll(async () => {
  fx = await servedExample('healthy-fleet');
  api = `${fx.url}/api/data/v9.2`;
});
afterAll(async () => {
  await fx?.close();
});

describe('health and the dashboard page', () => {
  it('GET /health answers 200 with the log position', async () => {
    const { status, body } = await getJson(`${fx.url}/health`);
    expect(status).toBe(200);
    expect(body.status).toBe('ok');
    expect(body.position).toBe(await fx.store.headPosition());
  });

  it('GET / answers 200 with the dashboard HTML itself (no redirect), self-contained under a strict CSP', async () => {
    const response = await fetch(`${fx.url}/`, { redirect: 'manual' });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await response.text();
    expect(html).toContain('<!doctype html>');
    expect(html).toContain('id="asof-slider"');
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+stylesheet|https?:\/\/(?!www\.w3\.org)/);
    const csp = response.headers.get('content-security-policy')!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toMatch(/script-src 'sha256-[A-Za-z0-9+/=]+'/);
  });

  it('answers only requests addressed to a loopback name while bound to loopback (DNS rebinding), and no cross-site command', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const { port } = new URL(fx.url);
      const req = httpRequest({ host: '127.0.0.1', port: Number(port), path: '/health', headers: { host: 'evil.example:80' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(400);
    const crossSite = await fetch(`${fx.url}/api/commands/processDue`, { method: 'POST', headers: { origin: 'http://evil.example' } });
    expect(crossSite.status).toBe(400);
    expect((await crossSite.json()).error.message).toContain('cross-origin');
    const sameSite = await fetch(`${fx.url}/api/commands/processDue`, { method: 'POST', headers: { origin: fx.url } });
    expect(sameSite.status).toBe(200);
    expect(isLoopback('127.0.0.1')).toBe(true);
    expect(isLoopback('::ffff:127.0.0.1')).toBe(true);
    expect(isLoopback('::1')).toBe(true);
    expect(isLoopback('10.0.0.7')).toBe(false);
  });

  it('an unknown route is 404 with an error body', async () => {
    const { status, body } = await getJson(`${fx.url}/api/nothing-here`);
    expect(status).toBe(404);
    expect(body.error.code).toBe('RESOURCE_NOT_FOUND');
  });
});

describe('OData under /api/data/v9.2', () => {
  it('the service document lists the three entity sets', async () => {
    const { status, body } = await getJson(`${api}/`);
    expect(status).toBe(200);
    expect(body.value.map((e: { name: string }) => e.name)).toEqual(['flowmachinegroups', 'flowmachines', 'desktopflowconnections']);
  });

  it('answers in the Web API shape, with the same rows as queryTable, formatted values only when asked', async () => {
    const query = "$filter=startswith(name,'FIN')&$select=name,keydeliverystatus,agentversion&$orderby=name desc&$count=true";
    const plain = await getJson(`${api}/flowmachines?${query}`);
    expect(plain.status).toBe(200);
    expect(plain.body['@odata.context']).toBe(`${fx.url}/api/data/v9.2/$metadata#flowmachines(name,keydeliverystatus,agentversion)`);
    expect(Object.keys(plain.body)).toEqual(['@odata.context', '@odata.count', 'value']);
    // As in Dataverse, the primary key comes back under $select too (after the selected columns).
    const direct = await queryTable({ store: fx.store, table: 'flowmachines', filter: "startswith(name,'FIN')", select: 'name,keydeliverystatus,agentversion,flowmachineid', orderby: 'name desc', count: true });
    expect(plain.body['@odata.count']).toBe(direct['@odata.count']);
    expect(plain.body.value.map((r: { name: string }) => r.name)).toEqual(direct.value.map((r) => r.name));
    expect(plain.body.value.map((r: { name: string }) => r.name)).toEqual(['FIN-03', 'FIN-02', 'FIN-01']);
    expect(plain.body.value.some(hasFormatted)).toBe(false);
    expect(plain.headers.get('preference-applied')).toBeNull();

    const annotated = await getJson(`${api}/flowmachines?${query}`, ANNOTATIONS);
    expect(annotated.body.value).toEqual(direct.value);
    expect(annotated.body.value[0][`keydeliverystatus${FV}`]).toBe('Default');
    expect(annotated.headers.get('preference-applied')).toBe('odata.include-annotations="OData.Community.Display.V1.FormattedValue"');
    const star = await getJson(`${api}/flowmachinegroups`, { prefer: 'odata.include-annotations="*"' });
    expect(star.body.value.every(hasFormatted)).toBe(true);
  });

  it('$top limits the rows while $count counts every match', async () => {
    const { body } = await getJson(`${api}/flowmachines?$top=2&$count=true&$orderby=name`);
    expect(body.value).toHaveLength(2);
    expect(body['@odata.count']).toBe(5);
    expect(body['@odata.nextLink']).toBeUndefined();
  });

  it('Prefer: odata.maxpagesize pages the result through @odata.nextLink skiptoken URLs', async () => {
    const all = (await getJson(`${api}/flowmachines?$orderby=name&$select=name`)).body.value.map((r: { name: string }) => r.name);
    expect(all).toHaveLength(5);
    const seen: string[] = [];
    let url: string | undefined = `${api}/flowmachines?$orderby=name&$select=name&$count=true`;
    let pages = 0;
    while (url) {
      const page: JsonResponse = await getJson(url, { prefer: 'odata.maxpagesize=2' });
      expect(page.status).toBe(200);
      expect(page.headers.get('preference-applied')).toBe('odata.maxpagesize=2');
      expect(page.body.value.length).toBeLessThanOrEqual(2);
      expect(page.body['@odata.count']).toBe(5);
      seen.push(...page.body.value.map((r: { name: string }) => r.name));
      url = page.body['@odata.nextLink'];
      if (url) {
        expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api\/data\/v9\.2\/flowmachines\?.*\$skiptoken=/);
        expect(url).toContain('$orderby=name');
      }
      pages++;
    }
    expect(pages).toBe(3);
    expect(seen).toEqual(all);
  });

  it('asOf and position give the tables as they were, as tablesAt computes them', async () => {
    const history = await rowHistory(fx.store, 'flowmachinegroups', 'Finance');
    const started = history.changes.find((c) => c.event === 'RenewalStarted')!;
    const byPosition = await getJson(`${api}/flowmachines?position=${started.position}`, ANNOTATIONS);
    const expected = await tablesAt(fx.store, { position: started.position });
    expect(byPosition.body.value).toEqual(expected.tables.flowmachines);
    expect(byPosition.body.value.filter((m: { name: string }) => m.name.startsWith('FIN')).every((m: { keydeliverystatus: number }) => m.keydeliverystatus === 2)).toBe(true);

    const asOf = '2028-03-01T12:00:00Z';
    const byInstant = await getJson(`${api}/flowmachinegroups?asOf=${asOf}`, ANNOTATIONS);
    expect(byInstant.body.value).toEqual((await tablesAt(fx.store, { asOf })).tables.flowmachinegroups);
  });

  it('one row by id, or by name as an alternate key, with $select; 404 for an unknown id', async () => {
    const list = (await getJson(`${api}/flowmachinegroups?$select=flowmachinegroupid,name`)).body.value;
    const finance = list.find((r: { name: string }) => r.name === 'Finance');
    const byId = await getJson(`${api}/flowmachinegroups(${finance.flowmachinegroupid})`);
    expect(byId.status).toBe(200);
    expect(byId.body['@odata.context']).toBe(`${fx.url}/api/data/v9.2/$metadata#flowmachinegroups/$entity`);
    expect(byId.body.name).toBe('Finance');
    expect(hasFormatted(byId.body)).toBe(false);
    const byName = await getJson(`${api}/flowmachinegroups(name='Finance')?$select=name,statecode`, ANNOTATIONS);
    expect(byName.body).toMatchObject({ name: 'Finance', statecode: 0, [`statecode${FV}`]: 'Active' });
    expect(byName.body.keyvalidityperiod).toBeUndefined();

    const unknown = await getJson(`${api}/flowmachinegroups(00000000-0000-4000-a000-000000000000)`);
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('ROW_NOT_FOUND');
    expect((await getJson(`${api}/flowmachines(name='NOPE-01')`)).status).toBe(404);
  });

  it('an unknown entity set is 404 RESOURCE_NOT_FOUND naming the segment', async () => {
    for (const path of ['flowmachine', 'accounts(1)']) {
      const { status, body } = await getJson(`${api}/${path}`);
      expect(status).toBe(404);
      expect(body.error.code).toBe('RESOURCE_NOT_FOUND');
      expect(body.error.message).toContain("segment '");
    }
  });

  it('a bad $filter, $select or $orderby is 400 {"error": {"code", "message"}} naming the position or the column', async () => {
    const cases: [string, string, RegExp][] = [
      ["$filter=name eq 'FIN-01' and", 'ODATA_SYNTAX', /position 21/],
      ['$filter=keydeliverystatus eq 2)', 'ODATA_SYNTAX', /position \d+/],
      ['$filter=nosuchcolumn eq 1', 'ODATA_UNKNOWN_COLUMN', /'nosuchcolumn'/],
      ['$select=name,,agentversion', 'ODATA_SYNTAX', /position \d+/],
      ['$select=password', 'ODATA_UNKNOWN_COLUMN', /'password'/],
      ['$orderby=name sideways', 'ODATA_SYNTAX', /position \d+/],
      ['$top=0', 'ODATA_INVALID_TOP', /./],
      ['$count=maybe', 'ODATA_INVALID_COUNT', /./],
      ['$expand=x', 'REQUEST_INVALID', /\$expand/],
      ['asOf=yesterday', 'INSTANT_INVALID', /yesterday/],
      ['position=999999', 'POSITION_OUT_OF_RANGE', /beyond the end/],
      ['position=-1', 'POSITION_OUT_OF_RANGE', /-1/],
      ['$skiptoken=garbage', 'REQUEST_INVALID', /skiptoken/],
    ];
    for (const [query, code, message] of cases) {
      const { status, body } = await getJson(`${api}/flowmachines?${query.replace(/ /g, '%20')}`);
      expect({ query, status, code: body.error?.code }).toEqual({ query, status: 400, code });
      expect(Object.keys(body)).toEqual(['error']);
      expect(Object.keys(body.error)).toEqual(['code', 'message']);
      expect(body.error.message).toMatch(message);
    }
  });
});

describe('history, tables, timeline and reminders', () => {
  it('GET /api/history/<entityset>/<name-or-id> is every change of the row, as rowHistory gives it', async () => {
    const { status, body } = await getJson(`${fx.url}/api/history/flowmachines/FIN-02`);
    expect(status).toBe(200);
    const direct = await rowHistory(fx.store, 'flowmachines', 'FIN-02');
    expect(body).toEqual(JSON.parse(JSON.stringify(direct)));
    expect(body.changes[0].event).toBe('MachineJoined');
    const byId = await getJson(`${fx.url}/api/history/flowmachines/${body.id}`);
    expect(byId.body.changes).toHaveLength(body.changes.length);
    expect((await getJson(`${fx.url}/api/history/flowmachines/NOPE`)).status).toBe(404);
    expect((await getJson(`${fx.url}/api/history/machines/FIN-02`)).body.error.code).toBe('RESOURCE_NOT_FOUND');
  });

  it('GET /api/tables gives every table at once and the span of the log', async () => {
    const { body } = await getJson(`${fx.url}/api/tables`);
    expect(body.position).toBe(await fx.store.headPosition());
    expect(body.log.firstInstant).toBe('2026-01-01T00:00:00.000Z');
    expect(body.log.lastInstant).toBe('2041-01-01T00:00:00.000Z');
    expect(body.tables.flowmachinegroups.map((g: { name: string }) => g.name)).toEqual(['Finance', 'HR']);
    const past = await getJson(`${fx.url}/api/tables?asOf=2026-01-01T12:00:00Z`);
    expect(past.body.instant).toBe('2026-01-01T12:00:00.000Z');
    expect(past.body.tables.flowmachines.length).toBeLessThan(body.tables.flowmachines.length);
  });

  it('GET /api/timeline/<group> has every key, window, online session and run of the group up to the instant', async () => {
    const { status, body } = await getJson(`${fx.url}/api/timeline/Finance`);
    expect(status).toBe(200);
    const history = await rowHistory(fx.store, 'flowmachinegroups', 'Finance');
    expect(body.windows).toHaveLength(history.changes.filter((c) => c.event === 'RenewalStarted').length);
    expect(body.keys.map((k: { version: number }) => k.version)).toEqual([1, 2, 3, 4]);
    expect(body.keys.slice(0, 3).every((k: { retiredAt: string | null }) => k.retiredAt !== null)).toBe(true);
    expect(body.machines.map((m: { name: string }) => m.name)).toEqual(['FIN-01', 'FIN-02', 'FIN-03']);
    expect(body.machines[0].sessions.length).toBeGreaterThan(0);
    expect(body.machines.flatMap((m: { marks: { kind: string }[] }) => m.marks.map((x) => x.kind))).toEqual(expect.arrayContaining(['joined', 'issued', 'received']));
    expect(body.connections.map((c: { name: string }) => c.name)).toEqual(['Invoices']);
    expect(body.connections[0].runs.length).toBeGreaterThan(10);
    expect(body.next.window.startsAt).toBe(body.row.rekey_nextrenewaldate);

    const early = await getJson(`${fx.url}/api/timeline/Finance?asOf=2027-01-01T00:00:00Z`);
    expect(early.body.keys).toHaveLength(1);
    expect(early.body.windows).toHaveLength(0);
    expect(early.body.connections[0].runs.every((r: { at: string }) => r.at <= '2027-01-01T00:00:00.000Z')).toBe(true);
    expect((await getJson(`${fx.url}/api/timeline/Nobody`)).status).toBe(404);
  });

  it('GET /api/reminders: during a renewal, each pending machine must be online and each connection must run before the window ends', async () => {
    const history = await rowHistory(fx.store, 'flowmachinegroups', 'Finance');
    const started = history.changes.find((c) => c.event === 'RenewalStarted')!;
    const { body } = await getJson(`${fx.url}/api/reminders?position=${started.position}`);
    const end = started.row!.rekey_renewalendsat;
    const due = body.machines.filter((m: { state: string }) => m.state === 'due');
    expect(due.map((m: { machine: string }) => m.machine)).toEqual(['FIN-01', 'FIN-02', 'FIN-03']);
    expect(due.every((m: { mustBeOnlineBy: string; windowStart: string }) => m.mustBeOnlineBy === end && m.windowStart === started.occurredAt)).toBe(true);
    expect(body.connections.filter((c: { state: string }) => c.state === 'due')).toEqual([
      expect.objectContaining({ connection: 'Invoices', group: 'Finance', mustRunBy: end }),
    ]);
    // HR's next renewal is upcoming: its members are reminded of that window.
    expect(body.machines.filter((m: { group: string }) => m.group === 'HR').every((m: { state: string }) => m.state === 'upcoming')).toBe(true);

    const atHead = await getJson(`${fx.url}/api/reminders`);
    expect(atHead.body.machines.every((m: { state: string }) => m.state === 'upcoming')).toBe(true);
  });
});

describe('GET /metrics', () => {
  it('exposes per-group key timestamps in seconds, machines per key delivery status, and process metrics', async () => {
    const response = await fetch(`${fx.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    const { body } = await getJson(`${api}/flowmachinegroups`);
    for (const group of body.value) {
      const seconds = (iso: string) => String(Date.parse(iso) / 1000);
      expect(text).toContain(`rekey_group_key_expiration_timestamp_seconds{group="${group.name}"} ${seconds(group.rekey_keyexpirydate)}`);
      expect(text).toContain(`rekey_group_key_creation_timestamp_seconds{group="${group.name}"} ${seconds(group.keycreationdate)}`);
      expect(text).toContain(`rekey_group_renewal_start_timestamp_seconds{group="${group.name}"} ${seconds(group.rekey_nextrenewaldate)}`);
    }
    expect(text).toContain('rekey_group_machines{group="Finance",keydeliverystatus="Default"} 3');
    expect(text).toContain('rekey_group_machines{group="Finance",keydeliverystatus="PendingNewKey"} 0');
    expect(text).toContain('rekey_group_machines{group="HR",keydeliverystatus="Default"} 2');
    expect(text).toMatch(/rekey_machine_last_heartbeat_timestamp_seconds\{group="Finance",machine="FIN-01"\} \d+/);
    expect(text).toContain(`rekey_log_position ${await fx.store.headPosition()}`);
    expect(text).toContain('# TYPE process_cpu_user_seconds_total counter');
    expect(text).toContain('nodejs_heap_size_used_bytes');
  });
});
