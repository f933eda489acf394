/**
 * docker-compose.yml and the Dockerfile, checked without running a container: the single dev node,
 * the `rekey` service and, under the `cluster` profile, a three-node cluster whose gossip seeds name
 * the other nodes. The compose file is read by `docker compose config` when Docker Compose is
 * installed, else by the `yaml` package when it is installed; with neither, those cases are
 * reported as skipped (with the reason) and only the Dockerfile checks run.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const COMPOSE_FILE = join(ROOT, 'docker-compose.yml');
const DOCKERFILE = join(ROOT, 'Dockerfile');

interface Service {
  image?: string;
  profiles?: string[];
  environment?: Record<string, string | number | boolean | null> | string[];
  ports?: (string | { target: number | string; published?: number | string; host_ip?: string })[];
  volumes?: (string | { type?: string; source?: string; target: string })[];
  networks?: Record<string, { ipv4_address?: string } | null> | string[];
  build?: string | { context?: string; dockerfile?: string };
  command?: string | string[];
  depends_on?: string[] | Record<string, unknown>;
}

interface Compose {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
  networks?: Record<string, unknown>;
}

/** The compose model, and which reader produced it; or why none could. */
async function loadCompose(): Promise<{ compose: Compose; reader: string } | { reason: string }> {
  try {
    execFileSync('docker', ['compose', 'version'], { stdio: 'ignore' });
    const json = execFileSync('docker', ['compose', '-f', COMPOSE_FILE, '--profile', 'cluster', 'config', '--format', 'json'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return { compose: JSON.parse(json) as Compose, reader: 'docker compose config' };
  } catch {
    // no Docker Compose here: try the yaml package
  }
  try {
    const moduleName = 'yaml'; // not a dependency of rekey: used only when installed
    const yaml = (await import(moduleName)) as { parse(text: string, options?: Record<string, unknown>): unknown };
    return { compose: yaml.parse(readFileSync(COMPOSE_FILE, 'utf8'), { merge: true }) as Compose, reader: 'the yaml package' };
  } catch {
    return { reason: 'neither `docker compose` nor the `yaml` package is available to read docker-compose.yml' };
  }
}

const loaded = await loadCompose();
const compose = 'compose' in loaded ? loaded.compose : undefined;
if (!compose) console.warn(`[dockerCompose] compose checks SKIPPED: ${(loaded as { reason: string }).reason}`);

function env(service: Service): Record<string, string> {
  const raw = service.environment ?? {};
  if (Array.isArray(raw)) return Object.fromEntries(raw.map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
  return Object.fromEntries(Object.entries(raw).map(([key, value]) => [key, String(value)]));
}

/** Ports as "host_ip:published:target", whichever form the reader gave. */
function ports(service: Service): string[] {
  return (service.ports ?? []).map((port) => {
    if (typeof port === 'string') return port;
    return `${port.host_ip ?? ''}:${String(port.published ?? '')}:${String(port.target)}`;
  });
}

function volumeSources(service: Service): { source: string; target: string }[] {
  return (service.volumes ?? []).map((volume) => {
    if (typeof volume === 'string') {
      const [source, target] = volume.split(':');
      return { source: source!, target: target! };
    }
    return { source: volume.source ?? '', target: volume.target };
  });
}

function address(service: Service, network: string): string | undefined {
  const networks = service.networks;
  if (!networks || Array.isArray(networks)) return undefined;
  return networks[network]?.ipv4_address;
}

function command(service: Service): string {
  return Array.isArray(service.command) ? service.command.join(' ') : service.command ?? '';
}

const CLUSTER = ['esdb-node1', 'esdb-node2', 'esdb-node3'];

if (!compose) {
  describe('docker-compose.yml (skipped)', () => {
    it.skip(`SKIPPED, ${'reason' in loaded ? loaded.reason : ''}: install Docker Compose, or add the yaml package`, () => undefined);
  });
}

describe.skipIf(!compose)(`docker-compose.yml, read by ${'reader' in loaded ? loaded.reader : 'nothing'}`, () => {
  const c = compose!;
  const service = (name: string) => {
    const found = c.services[name];
    expect(found, `service ${name}`).toBeDefined();
    return found!;
  };

  it('declares the dev node, rekey and the three cluster nodes', () => {
    expect(Object.keys(c.services).sort()).toEqual(['esdb-node1', 'esdb-node2', 'esdb-node3', 'eventstore', 'rekey']);
  });

  it('runs one insecure EventStoreDB node on 127.0.0.1:2113 with a named volume, in every profile', () => {
    const node = service('eventstore');
    expect(node.image).toBe('eventstore/eventstore:24.10');
    expect(node.profiles ?? []).toEqual([]);
    expect(env(node)).toMatchObject({
      EVENTSTORE_CLUSTER_SIZE: '1',
      EVENTSTORE_INSECURE: 'true',
      EVENTSTORE_ENABLE_ATOM_PUB_OVER_HTTP: 'true',
    });
    expect(ports(node)).toEqual(['127.0.0.1:2113:2113']);
    const data = volumeSources(node).find((v) => v.target === '/var/lib/eventstore');
    expect(data?.source).toMatch(/eventstore-data$/);
    expect(Object.keys(c.volumes ?? {})).toContain('eventstore-data');
  });

  it('builds rekey from the Dockerfile and serves on all interfaces against the dev node', () => {
    const rekey = service('rekey');
    const build = typeof rekey.build === 'string' ? { context: rekey.build } : rekey.build ?? {};
    expect(build.dockerfile ?? 'Dockerfile').toBe('Dockerfile');
    expect(env(rekey).REKEY_EVENTSTORE).toBe('esdb://eventstore:2113?tls=false');
    expect(command(rekey)).toMatch(/^node dist\/src\/cli\/main\.js serve --host 0\.0\.0\.0/);
    const dependsOn = Array.isArray(rekey.depends_on) ? rekey.depends_on : Object.keys(rekey.depends_on ?? {});
    expect(dependsOn).toContain('eventstore');
    expect(ports(rekey)).toEqual(['127.0.0.1:8080:8080']);
  });

  it('puts a three-node insecure cluster under the cluster profile, each seeded with the two others', () => {
    const addresses = CLUSTER.map((name) => address(service(name), 'cluster'));
    expect(new Set(addresses).size).toBe(3);
    const advertised = new Set<string>();
    const published = new Set<string>();
    CLUSTER.forEach((name, i) => {
      const node = service(name);
      const settings = env(node);
      expect(node.profiles).toEqual(['cluster']);
      expect(node.image).toBe('eventstore/eventstore:24.10');
      expect(settings).toMatchObject({
        EVENTSTORE_CLUSTER_SIZE: '3',
        EVENTSTORE_DISCOVER_VIA_DNS: 'false',
        EVENTSTORE_INSECURE: 'true',
        EVENTSTORE_ENABLE_ATOM_PUB_OVER_HTTP: 'true',
        EVENTSTORE_REPLICATION_IP: addresses[i],
      });
      const seeds = settings.EVENTSTORE_GOSSIP_SEED!.split(',').sort();
      expect(seeds).toEqual(addresses.filter((_, j) => j !== i).map((ip) => `${ip}:2113`).sort());
      const port = settings.EVENTSTORE_ADVERTISE_NODE_PORT_TO_CLIENT_AS!;
      expect(settings.EVENTSTORE_ADVERTISE_HOST_TO_CLIENT_AS).toBe('127.0.0.1');
      expect(ports(node)).toEqual([`127.0.0.1:${port}:2113`]);
      advertised.add(port);
      published.add(ports(node)[0]!);
      expect(volumeSources(node).find((v) => v.target === '/var/lib/eventstore')?.source).toMatch(new RegExp(`${name}-data$`));
    });
    expect(advertised.size).toBe(3);
    expect(advertised.has('2113')).toBe(false); // the dev node keeps 2113
    expect(published.size).toBe(3);
  });
});

describe('Dockerfile', () => {
  const text = existsSync(DOCKERFILE) ? readFileSync(DOCKERFILE, 'utf8') : '';
  const instructions = text.split('\n').filter((line) => /^[A-Z]+\s/.test(line));

  it('builds on Node 20 with npm ci and serves on all interfaces', () => {
    expect(instructions.filter((line) => line.startsWith('FROM ')).every((line) => /^FROM node:20[-.\w]*( AS \w+)?$/.test(line))).toBe(true);
    expect(text).toMatch(/RUN npm ci\b/);
    const cmd = instructions.filter((line) => line.startsWith('CMD ')).at(-1);
    expect(JSON.parse(cmd!.slice(4))).toEqual(['node', 'dist/src/cli/main.js', 'serve', '--host', '0.0.0.0', '--port', '8080']);
  });

  it('runs as the unprivileged node user and keeps the build context small', () => {
    expect(instructions).toContain('USER node');
    const ignore = readFileSync(join(ROOT, 'Dockerfile.dockerignore'), 'utf8').split('\n');
    expect(ignore).toEqual(expect.arrayContaining(['node_modules', 'dist', 'data']));
  });
});
