/**
 * A TCP proxy written on node:net for the change-feed tests: it relays bytes between a client and the
 * server, and can cut every connection at once (`cut()`), optionally in the middle of a chunk, the way
 * a flaky network or a restarting load balancer does; or close connections that stay idle for
 * `idleTimeoutMs`, the way nginx's proxy_read_timeout does.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

interface Pair {
  readonly client: Socket;
  readonly upstream: Socket;
  /** When set, the next chunk from the server is forwarded only up to this fraction, then both ends close. */
  truncateAt: number | null;
  carried: boolean;
}

export class TcpProxy {
  private readonly server: Server;
  private readonly pairs = new Set<Pair>();
  /** Connections cut by `cut()`. */
  cuts = 0;
  /** Of those, the ones that had carried bytes from the server (a live stream, not a handshake). */
  liveCuts = 0;
  /** Connections closed for being idle. */
  idleCloses = 0;
  port = 0;

  constructor(private readonly target: { host: string; port: number }, private readonly options: { idleTimeoutMs?: number } = {}) {
    this.server = createServer((client) => this.relay(client));
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    this.port = typeof address === 'object' && address ? address.port : 0;
    return `http://127.0.0.1:${this.port}`;
  }

  /** Until this instant (ms), new connections are reset at once, as by a load balancer that is down. */
  private refuseUntil = 0;

  /** Resets every new connection for `ms` (the open ones are cut too). */
  refuseFor(ms: number): void {
    this.refuseUntil = Date.now() + ms;
    this.cut();
  }

  private relay(client: Socket): void {
    if (Date.now() < this.refuseUntil) {
      client.on('error', () => undefined);
      client.destroy();
      return;
    }
    const upstream = connect(this.target.port, this.target.host);
    const pair: Pair = { client, upstream, truncateAt: null, carried: false };
    this.pairs.add(pair);
    const close = () => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('data', (chunk: Buffer) => upstream.write(chunk));
    upstream.on('data', (chunk: Buffer) => {
      if (pair.truncateAt !== null) {
        client.write(chunk.subarray(0, Math.floor(chunk.length * pair.truncateAt)));
        this.count(pair);
        close();
        return;
      }
      pair.carried = true;
      client.write(chunk);
    });
    for (const socket of [client, upstream]) {
      socket.on('error', close);
      socket.on('close', close);
    }
    if (this.options.idleTimeoutMs !== undefined) {
      // Idle means no byte from the server, as for a proxy waiting on an upstream response.
      upstream.setTimeout(this.options.idleTimeoutMs, () => {
        this.idleCloses++;
        close();
      });
    }
  }

  private count(pair: Pair): void {
    this.cuts++;
    if (pair.carried) this.liveCuts++;
  }

  /** Open connections now. */
  get open(): number {
    return this.pairs.size;
  }

  /**
   * Cuts every open connection: with `truncate` (a fraction in [0, 1)), the next chunk from the server
   * is forwarded only in part before the cut (a message torn in two); connections that send nothing
   * within 20 ms are cut anyway.
   */
  cut(truncate: number | null = null): void {
    for (const pair of [...this.pairs]) {
      if (truncate === null) {
        this.count(pair);
        this.pairs.delete(pair);
        pair.client.destroy();
        pair.upstream.destroy();
        continue;
      }
      pair.truncateAt = truncate;
      setTimeout(() => {
        if (!this.pairs.has(pair)) return;
        this.count(pair);
        this.pairs.delete(pair);
        pair.client.destroy();
        pair.upstream.destroy();
      }, 20).unref();
    }
  }

  async close(): Promise<void> {
    for (const pair of this.pairs) {
      pair.client.destroy();
      pair.upstream.destroy();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
