/**
 * `rekey serve` answers the way Dataverse's Web API does where a client notices (docs/api.md,
 * "Tables"), checked with libraries nobody here wrote: @odata/client (an OData V4 client) reads
 * collections, counts and single rows; fast-xml-parser reads the CSDL `$metadata` document that
 * every `@odata.context` points to.
 */
import { OData } from '@odata/client';
import { XMLParser } from 'fast-xml-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { servedExample, type Fixture } from './support/fixtures.js';

let fx: Fixture;
let api: string;
beforeAll(async () => {
  fx = await servedExample('branch-office-offline');
  api = `${fx.url}/api/data/v9.2`;
}, 120_000);
afterAll(async () => fx?.close());

const get = (path: string, headers: Record<string, string> = {}) => fetch(`${api}/${path}`, { headers: { accept: 'application/json', ...headers } });

describe('$metadata', () => {
  it('is a CSDL document for the three entity sets, with the keys and the columns the rows carry', async () => {
    const response = await get('$metadata', { accept: 'application/xml' });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/xml/);
    expect(response.headers.get('odata-version')).toBe('4.0');
    const xml = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (name, _path, _leaf, attribute) => !attribute && ['EntityType', 'EntitySet', 'Property', 'PropertyRef'].includes(name) }).parse(await response.text());
    const schema = xml['edmx:Edmx']['edmx:DataServices'].Schema;
    expect(xml['edmx:Edmx'].Version).toBe('4.0');
    expect(schema.Namespace).toBe('Microsoft.Dynamics.CRM');
    const sets = schema.EntityContainer.EntitySet.map((s: { Name: string; EntityType: string }) => [s.Name, s.EntityType]);
    expect(sets).toEqual([
      ['flowmachinegroups', 'Microsoft.Dynamics.CRM.flowmachinegroup'],
      ['flowmachines', 'Microsoft.Dynamics.CRM.flowmachine'],
      ['desktopflowconnections', 'Microsoft.Dynamics.CRM.desktopflowconnection'],
    ]);
    const machine = schema.EntityType.find((t: { Name: string }) => t.Name === 'flowmachine');
    expect(machine.Key.PropertyRef.map((p: { Name: string }) => p.Name)).toEqual(['flowmachineid']);
    const types = Object.fromEntries(machine.Property.map((p: { Name: string; Type: string }) => [p.Name, p.Type]));
    expect(types).toMatchObject({ flowmachineid: 'Edm.Guid', lastheartbeatdate: 'Edm.DateTimeOffset', keydeliverystatus: 'Edm.Int32', name: 'Edm.String' });
    // Every column a row carries is declared, and nothing else.
    const body = await (await get('flowmachines')).json();
    expect(Object.keys(body.value[0]).filter((k) => !k.includes('@')).sort()).toEqual(Object.keys(types).sort());
    // @odata.context points at this document.
    expect(body['@odata.context']).toBe(`${api}/$metadata#flowmachines`);
  });
});

describe('an independent OData client (@odata/client) reads the service', () => {
  const client = () => OData.New4({ serviceEndpoint: `${api}/` });

  it('queries with $filter on a formatted choice value and $select, and always gets the primary key', async () => {
    const rows = await client().getEntitySet<Record<string, unknown>>('flowmachines').query(OData.newParam().filter("keydeliverystatus eq 'Default'").select('name'));
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) expect(Object.keys(row).filter((k) => !k.startsWith('@'))).toEqual(['name', 'flowmachineid']);
    const codes = await client().getEntitySet<Record<string, unknown>>('flowmachines').query(OData.newParam().filter('keydeliverystatus eq 1').select('name'));
    expect(rows).toEqual(codes);
  });

  it('counts and retrieves one row by its key', async () => {
    const es = client().getEntitySet<Record<string, unknown>>('flowmachines');
    expect(await es.count()).toBe(3);
    const [first] = await es.query(OData.newParam().select('name').orderby('name', 'asc'));
    const one = await es.retrieve(String(first!.flowmachineid));
    expect(one.name).toBe(first!.name);
  });
});

describe('Dataverse conventions', () => {
  it('OData-Version 4.0 and application/json; odata.metadata=minimal on answers and errors', async () => {
    const ok = await get('flowmachines');
    expect([ok.headers.get('odata-version'), ok.headers.get('content-type')]).toEqual(['4.0', 'application/json; odata.metadata=minimal']);
    const bad = await get('flowmachines?$filter=colour eq 1');
    expect(bad.status).toBe(400);
    expect([bad.headers.get('odata-version'), bad.headers.get('content-type')]).toEqual(['4.0', 'application/json; odata.metadata=minimal']);
    expect(Object.keys(await bad.json())).toEqual(['error']);
  });

  it('/<set>/$count answers the number of matching rows as text', async () => {
    const all = await get('flowmachines/$count');
    expect(all.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await all.text()).toBe('3');
    expect(await (await get("flowmachines/$count?$filter=name eq 'LYO-01'")).text()).toBe('1');
  });

  it('annotations only when asked (quoted or not), and Preference-Applied only for what was applied', async () => {
    const plain = await get('flowmachines?$select=name,_flowmachinegroupid_value');
    expect(JSON.stringify(await plain.json())).not.toMatch(/FormattedValue|lookuplogicalname/);
    expect(plain.headers.get('preference-applied')).toBeNull();

    const unquoted = await get('flowmachines?$select=name,_flowmachinegroupid_value', { prefer: 'odata.include-annotations=*' });
    const row = (await unquoted.json()).value[0];
    expect(row['_flowmachinegroupid_value@OData.Community.Display.V1.FormattedValue']).toBe('Branch-Lyon');
    expect(row['_flowmachinegroupid_value@Microsoft.Dynamics.CRM.lookuplogicalname']).toBe('flowmachinegroup');
    expect(unquoted.headers.get('preference-applied')).toBe('odata.include-annotations="*"');

    const unknown = await get('flowmachines', { prefer: 'odata.include-annotations="Contoso.*"' });
    expect(JSON.stringify(await unknown.json())).not.toMatch(/FormattedValue/);
    expect(unknown.headers.get('preference-applied')).toBeNull();

    const tooBig = await get('flowmachines', { prefer: 'odata.maxpagesize=9000' });
    expect(tooBig.headers.get('preference-applied')).toBeNull(); // Dataverse ignores sizes above 5,000
    const paged = await get('flowmachines', { prefer: 'odata.maxpagesize=2' });
    expect(paged.headers.get('preference-applied')).toBe('odata.maxpagesize=2');
    const page = await paged.json();
    expect(page.value).toHaveLength(2);
    expect(page['@odata.nextLink']).toMatch(/\$skiptoken=/);
  });
});

describe('Microsoft.Dynamics.CRM query functions, relative to the read\'s instant', () => {
  const names = async (query: string) => ((await (await get(`flowmachines?$select=name&$orderby=name&${query}`)).json()).value as { name: string }[]).map((r) => r.name);

  it('On, OnOrBefore, OnOrAfter, In and NotIn, with parameter aliases or inline values', async () => {
    // The machines joined on 2026-01-01, -02 and -03 (examples/branch-office-offline.json).
    expect(await names("$filter=Microsoft.Dynamics.CRM.On(PropertyName=@p1,PropertyValue=@p2)&@p1='createdon'&@p2='2026-01-02'")).toEqual(['LYO-02']);
    expect(await names("$filter=Microsoft.Dynamics.CRM.OnOrBefore(PropertyName='createdon',PropertyValue='2026-01-02')")).toEqual(['LYO-01', 'LYO-02']);
    expect(await names("$filter=Microsoft.Dynamics.CRM.OnOrAfter(PropertyName='createdon',PropertyValue=2026-01-02)")).toEqual(['LYO-02', 'LYO-03']);
    expect(await names("$filter=Microsoft.Dynamics.CRM.In(PropertyName='name',PropertyValues=['LYO-01','LYO-03'])")).toEqual(['LYO-01', 'LYO-03']);
    expect(await names("$filter=Microsoft.Dynamics.CRM.NotIn(PropertyName='name',PropertyValues=@v)&@v=['LYO-01']")).toEqual(['LYO-02', 'LYO-03']);
    expect(await names("$filter=Microsoft.Dynamics.CRM.In(PropertyName='keydeliverystatus',PropertyValues=['PendingNewKey'])&asOf=2030-09-01T00:00:00Z")).toEqual(['LYO-02', 'LYO-03']);
  });

  it('LastXDays and NextXDays count from the as-of instant, not the wall clock', async () => {
    // On 2030-09-01 LYO-01 is online (heartbeat that day); LYO-02 and LYO-03 last checked in on 2030-04-30.
    expect(await names("$filter=Microsoft.Dynamics.CRM.LastXDays(PropertyName='lastheartbeatdate',PropertyValue=7)&asOf=2030-09-01T00:00:00Z")).toEqual(['LYO-01']);
    expect(await names("$filter=Microsoft.Dynamics.CRM.LastXDays(PropertyName='lastheartbeatdate',PropertyValue=130)&asOf=2030-09-01T00:00:00Z")).toEqual(['LYO-01', 'LYO-02', 'LYO-03']);
    // As of 2030-04-29 00:00 every machine has just checked in; twelve hours later none has yet again.
    expect(await names("$filter=Microsoft.Dynamics.CRM.NextXDays(PropertyName='lastheartbeatdate',PropertyValue=7)&asOf=2030-04-29T00:00:00Z")).toEqual(['LYO-01', 'LYO-02', 'LYO-03']);
    expect(await names("$filter=Microsoft.Dynamics.CRM.NextXDays(PropertyName='lastheartbeatdate',PropertyValue=7)&asOf=2030-04-29T12:00:00Z")).toEqual([]);
    expect(await names("$filter=Microsoft.Dynamics.CRM.Today(PropertyName='lastheartbeatdate')&asOf=2030-04-29T12:00:00Z")).toEqual(['LYO-01', 'LYO-02', 'LYO-03']);
  });

  it('an unsupported function is refused with its name and the list; a bad label names the allowed values', async () => {
    const refused = await get("flowmachines?$filter=Microsoft.Dynamics.CRM.ThisFiscalYear(PropertyName='createdon')");
    expect(refused.status).toBe(400);
    expect((await refused.json()).error.message).toBe("$filter: the query function Microsoft.Dynamics.CRM.ThisFiscalYear at position 1 is not supported by rekey; the query functions are On, OnOrBefore, OnOrAfter, LastXDays, NextXDays, LastXHours, NextXHours, Today, Yesterday, Tomorrow, In, NotIn (Microsoft.Dynamics.CRM.<name>)");
    const label = await get("flowmachines?$filter=keydeliverystatus eq 'Pending'");
    expect((await label.json()).error).toEqual({ code: 'ODATA_SYNTAX', message: "$filter: 'Pending' at position 22 is not a value of the choice column keydeliverystatus; expected 1 (Default), 2 (PendingNewKey), 3 (KeyExpired), by code or label" });
  });
});
