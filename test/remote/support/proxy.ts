/**
 * A loopback TCP proxy that records every byte in both directions: put it between agents and the
 * service to see exactly what crosses the wire.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface RecordingProxy {
  readonly url: string;
  /** Everything each connection carried, one buffer per connection and direction (so nothing split across chunks hides). */
  streams(): Buffer[];
  bytes(): number;
  close(): Promise<void>;
}

export async function recordingProxy(target: string): Promise<RecordingProxy> {
  const { hostname, port } = new URL(target);
  const directions: Buffer[][] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect({ host: hostname, port: Number(port) });
    sockets.add(client).add(upstream);
    const sent: Buffer[] = [];
    const received: Buffer[] = [];
    directions.push(sent, received);
    client.on('data', (data: Buffer) => sent.push(Buffer.from(data)));
    upstream.on('data', (data: Buffer) => received.push(Buffer.from(data)));
    client.pipe(upstream);
    upstream.pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}`,
    streams: () => directions.map((chunks) => Buffer.concat(chunks)),
    bytes: () => directions.flat().reduce((sum, chunk) => sum + chunk.length, 0),
    close: () => new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    }),
  };
}
