/**
 * The change feed as server-sent events, checked with the npm `eventsource` client (an independent
 * implementation of the WHATWG EventSource) and raw sockets, through a TCP proxy written here:
 * - 0 lost and 0 duplicated changes, compared against the log, while the proxy cuts the connection
 *   50+ times at random (some cuts tear a message in two, some keep the proxy down long enough that
 *   the client falls out of the server's replay buffer) and commands are posted all along;
 * - every id unique and totally ordered; `ready` carries the head id; Last-Event-ID wins over
 *   fromPosition, also in the middle of one event's changes;
 * - heartbeats keep a proxy with an idle timeout from closing the stream (and without them it does);
 * - a stream whose unsent data exceeds its buffer is closed with SSE_CLIENT_TOO_SLOW and the id to
 *   resume from, and resuming there loses nothing.
 * Limits (connection cap, slow clients, /health under 1,000 streams) are in changeFeed.load.test.ts.
 */
import { connect } from 'node:net';
import { EventSource } from 'eventsource';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getJson, postJson, servedExample, SseClient, type Fixture } from './support/fixtures.js';
import { TcpProxy } from './support/tcpProxy.js';

/** A small seeded generator (mulberry32): the chaos is the same on every run of a seed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Seen {
  readonly id: string;
  readonly position: number;
  readonly name: string;
  readonly table: string;
  readonly changeType: string;
}

let fx: Fixture;
beforeAll(async () => {
  fx = await servedExample('healthy-fleet', { changeStreams: { retryMs: 20, heartbeatMs: 100, hubBufferSize: 8 } });
});
afterAll(async () => {
  await fx?.close();
});

/** Every row change the log holds from `from` on, folded by a projection of the test's own, numbered per event. */
async function changesInLog(from: number): Promise<Seen[]> {
  const projection = await fx.server.context.readModel.projectionAt({ position: from - 1 });
  const seen: Seen[] = [];
  for (const event of await fx.store.readAll(from)) {
    let index = 0;
    projection.apply(event, (change) => seen.push({ id: `${change.position}-${index++}`, position: change.position, name: change.name, table: change.table, changeType: change.changeType }));
  }
  return seen;
}

/** Reads a raw SSE response from a socket; `pause` leaves it unread until `resume`. */
function rawStream(url: string, path: string, headers: Record<string, string> = {}) {
  const { port } = new URL(url);
  const socket = connect(Number(port), '127.0.0.1');
  let text = '';
  let ended = false;
  socket.on('data', (chunk) => (text += chunk.toString('utf8')));
  socket.on('end', () => (ended = true));
  socket.on('close', () => (ended = true));
  socket.on('error', () => (ended = true));
  const lines = Object.entries({ host: `127.0.0.1:${port}`, accept: 'text/event-stream', ...headers }).map(([k, v]) => `${k}: ${v}`);
  // HTTP/1.0: the body comes as sent, without chunked framing.
  socket.write(`GET ${path} HTTP/1.0\r\n${lines.join('\r\n')}\r\n\r\n`);
  return {
    socket,
    get text() {
      return text;
    },
    get ended() {
      return ended;
    },
    async until(test: (text: string) => boolean, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (!test(text)) {
        if (Date.now() > deadline) throw new Error(`stream: condition not met within ${timeoutMs} ms; got ${text.slice(-400)}`);
        await sleep(10);
      }
    },
    close: () => socket.destroy(),
  };
}

describe('GET /api/changes through a proxy that keeps dropping the connection', () => {
  it('the eventsource client receives every change of the log exactly once, in order, over 50+ drops', async () => {
    const rand = random(Number(process.env.REKEY_SSE_SEED ?? 13));
    const target = Number(process.env.REKEY_SSE_DROPS ?? 50);
    const { port } = new URL(fx.url);
    const proxy = new TcpProxy({ host: '127.0.0.1', port: Number(port) });
    const proxyUrl = await proxy.start();
    const from = (await fx.store.headPosition()) + 1;
    const received: Seen[] = [];
    let opens = 0;
    // fromPosition stays in the URL on every reconnect: only Last-Event-ID can keep it from replaying.
    const source = new EventSource(`${proxyUrl}/api/changes?fromPosition=${from}`);
    source.addEventListener('open', () => opens++);
    source.addEventListener('change', (event) => {
      const change = JSON.parse(event.data);
      received.push({ id: event.lastEventId, position: change.position, name: change.name, table: change.table, changeType: change.changeType });
    });
    try {
      let commands = 0;
      let drops = 0;
      const done = () => proxy.liveCuts >= target && commands >= 60;
      const posting = (async () => {
        for (let i = 0; !done(); i++) {
          const kind = i % 4;
          const response = kind === 0 ? await postJson(`${fx.url}/api/commands/createGroup`, { name: `Chaos-${i}` })
            : kind === 1 ? await postJson(`${fx.url}/api/commands/setKeyExpiryGracePeriod`, { group: 'Finance', minutes: 64_800 + i })
            : kind === 2 ? await postJson(`${fx.url}/api/commands/setProactiveReencryption`, { group: 'HR', enabled: i % 8 === 2 })
            : await postJson(`${fx.url}/api/commands/deleteGroup`, { group: `Chaos-${i - 3}` });
          expect(response.status, JSON.stringify(response.body)).toBe(200);
          commands++;
          await sleep(10 + rand() * 40);
        }
      })();
      // Each drop hits a live stream: wait until the client is connected, let it run a moment, cut.
      const chaos = (async () => {
        while (!done()) {
          const deadline = Date.now() + 20_000;
          while (source.readyState !== EventSource.OPEN) {
            if (Date.now() > deadline) throw new Error(`the client did not reconnect within 20 s after ${drops} drops`);
            await sleep(5);
          }
          await sleep(rand() * 100);
          const roll = rand();
          if (roll < 0.1) proxy.refuseFor(150 + rand() * 150); // long enough to fall out of the 8-change buffer: a replay from the log
          else if (roll < 0.55) proxy.cut(rand()); // tear the next message in two
          else proxy.cut();
          drops++;
          await sleep(30); // the cut lands before the next round looks at readyState
        }
      })();
      await Promise.all([posting, chaos]);
      const expected = await changesInLog(from);
      const last = expected.at(-1)!.id;
      const deadline = Date.now() + 30_000;
      while (!received.some((seen) => seen.id === last) && Date.now() < deadline) await sleep(20);

      expect(proxy.liveCuts).toBeGreaterThanOrEqual(target);
      expect(opens).toBeGreaterThanOrEqual(target); // the first open, and a reconnect after each cut but perhaps the last
      const ids = received.map((seen) => seen.id);
      const duplicated = ids.length - new Set(ids).size;
      const lost = expected.filter((change) => !ids.includes(change.id));
      expect({ duplicated, lost: lost.length }).toEqual({ duplicated: 0, lost: 0 });
      expect(received).toEqual(expected);
      expect(expected.length).toBeGreaterThanOrEqual(60);
    } finally {
      source.close();
      await proxy.close();
    }
  }, 180_000);
});

describe('GET /api/changes ids, ready and Last-Event-ID', () => {
  it('ready carries the head id; ids are unique and totally ordered (P-I); Last-Event-ID wins over fromPosition', async () => {
    const head = await fx.store.headPosition();
    const stream = rawStream(fx.url, '/api/changes');
    try {
      await stream.until((text) => text.includes('event: ready'));
      expect(stream.text).toMatch(new RegExp(`retry: 20\\nid: ${head}\\nevent: ready\\ndata: \\{"fromPosition":${head + 1},"lastEventId":"${head}","head":${head}\\}`));
    } finally {
      stream.close();
    }
    const replay = await SseClient.open(`${fx.url}/api/changes?fromPosition=1`);
    try {
      const expected = await changesInLog(1);
      await replay.waitFor((e) => e.id === expected.at(-1)!.id, 30_000);
      const ids = replay.events.filter((e) => e.event === 'change').map((e) => e.id!);
      expect(ids).toEqual(expected.map((change) => change.id));
      const order = ids.map((id) => id.split('-').map(Number) as [number, number]);
      for (let i = 1; i < order.length; i++) {
        const [p0, i0] = order[i - 1]!;
        const [p1, i1] = order[i]!;
        expect(p1 > p0 || (p1 === p0 && i1 === i0 + 1), `${ids[i - 1]} then ${ids[i]}`).toBe(true);
      }
    } finally {
      replay.close();
    }
    // Resume after the head: the URL's fromPosition=1 would replay everything; Last-Event-ID wins.
    const resumed = await SseClient.open(`${fx.url}/api/changes?fromPosition=1`, { 'last-event-id': String(head) });
    try {
      const ready = await resumed.waitFor((e) => e.event === 'ready');
      expect(ready.id).toBe(String(head));
      const { body } = await postJson(`${fx.url}/api/commands/setKeyExpiryGracePeriod`, { group: 'HR', minutes: 70_000 });
      const change = await resumed.waitFor((e) => e.event === 'change');
      expect(change.id).toBe(`${body.events[0].position}-0`);
      expect(resumed.events.filter((e) => e.event === 'change')).toHaveLength(1);
    } finally {
      resumed.close();
    }
  });

  it('Last-Event-ID P-I resumes inside one event\'s changes, also from far behind the replay buffer', async () => {
    const all = await changesInLog(1);
    const crowded = all.find((change, i) => all[i + 1]?.position === change.position && all[i + 2]?.position === change.position)!;
    expect(crowded).toBeDefined();
    const feed = await SseClient.open(`${fx.url}/api/changes?table=flowmachinegroups,flowmachines,desktopflowconnections`, { 'last-event-id': crowded.id });
    try {
      const expected = all.slice(all.indexOf(crowded) + 1);
      await feed.waitFor((e) => e.id === expected.at(-1)!.id, 30_000);
      expect(feed.events.filter((e) => e.event === 'change').map((e) => e.id)).toEqual(expected.map((change) => change.id));
      // The stream is live after the replay: a new change still arrives.
      const { body } = await postJson(`${fx.url}/api/commands/setKeyExpiryGracePeriod`, { group: 'HR', minutes: 71_000 });
      await feed.waitFor((e) => e.id === `${body.events[0].position}-0`);
    } finally {
      feed.close();
    }
  });

  it('a Last-Event-ID this feed never sent is 400, naming both accepted forms', async () => {
    const { status, body } = await getJson(`${fx.url}/api/changes`, { 'last-event-id': 'abc' });
    expect(status).toBe(400);
    expect(body.error).toEqual({ code: 'REQUEST_INVALID', message: 'Last-Event-ID "abc" is not an id this feed sent: expected P (a log position) or P-I (change I of position P)' });
  });
});

describe('GET /api/changes heartbeats and buffers', () => {
  it('heartbeats keep a proxy with a 400 ms idle timeout from closing the stream; without them it closes it', async () => {
    const { port } = new URL(fx.url);
    const proxy = new TcpProxy({ host: '127.0.0.1', port: Number(port) }, { idleTimeoutMs: 400 });
    const proxyUrl = await proxy.start();
    const quiet = await servedExampleSilent();
    const silentProxy = new TcpProxy({ host: '127.0.0.1', port: Number(new URL(quiet.url).port) }, { idleTimeoutMs: 400 });
    const silentUrl = await silentProxy.start();
    const beating = rawStream(proxyUrl, '/api/changes');
    const silent = rawStream(silentUrl, '/api/changes');
    try {
      await sleep(1600);
      expect(proxy.idleCloses).toBe(0);
      expect(beating.ended).toBe(false);
      expect(beating.text.split(': keep-alive\n\n').length - 1).toBeGreaterThanOrEqual(5);
      expect(silentProxy.idleCloses).toBe(1);
      expect(silent.ended).toBe(true);
    } finally {
      beating.close();
      silent.close();
      await proxy.close();
      await silentProxy.close();
      await quiet.server.close();
    }
  });

  it('a stream with more unsent data than its buffer allows is closed with SSE_CLIENT_TOO_SLOW and the id to resume from; resuming there loses nothing', async () => {
    const { createServer } = await import('../../src/api/index.js');
    const tight = await createServer({ store: fx.store, host: '127.0.0.1', port: 0, schedulerIntervalMs: 0, readModelFile: ':memory:', changeStreams: { maxBufferedBytes: 2048 } });
    const feed = await SseClient.open(`${tight.url}/api/changes`);
    try {
      await feed.waitFor((e) => e.event === 'ready');
      // Deleting a group with members and connections makes several changes in one event, sent in one burst.
      const { body } = await postJson(`${fx.url}/api/commands/deleteGroup`, { group: 'HR' });
      const position = body.events[0].position;
      const closed = await feed.waitFor((e) => e.event === 'error');
      expect(closed.data.error.code).toBe('SSE_CLIENT_TOO_SLOW');
      expect(closed.data.error.message).toMatch(/^the client left \d+ bytes unread, more than the limit of 2048; reconnect with Last-Event-ID \d+-\d+ to resume$/);
      const resumeId = /Last-Event-ID (\S+)/.exec(closed.data.error.message)![1]!;
      const before = feed.events.filter((e) => e.event === 'change').map((e) => e.id);
      expect(before.at(-1)).toBe(resumeId);
      const resumed = await SseClient.open(`${fx.url}/api/changes`, { 'last-event-id': resumeId });
      try {
        const expected = (await changesInLog(position)).map((change) => change.id);
        await resumed.waitFor((e) => e.id === expected.at(-1));
        expect([...before, ...resumed.events.filter((e) => e.event === 'change').map((e) => e.id)]).toEqual(expected);
        expect(expected.length).toBeGreaterThan(3);
      } finally {
        resumed.close();
      }
    } finally {
      feed.close();
      await tight.close();
    }
  });
});

/** A second server on the same store whose heartbeat is too slow to matter (1 hour). */
async function servedExampleSilent() {
  const { createServer } = await import('../../src/api/index.js');
  const server = await createServer({ store: fx.store, host: '127.0.0.1', port: 0, schedulerIntervalMs: 0, readModelFile: ':memory:', changeStreams: { heartbeatMs: 3_600_000 } });
  return { server, url: server.url };
}

