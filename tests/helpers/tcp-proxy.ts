import { connect, createServer, type Server, type Socket } from 'node:net';

export interface TcpProxy {
  port: number;
  /**
   * Stops forwarding on the open connections whose opening bytes (what the
   * client sent first, e.g. `CLIENT SETNAME <name>`) satisfy `match`, and
   * keeps them open: a half-open connection, as after a vanished peer. New
   * connections are forwarded as usual.
   */
  freeze(match: (opening: string) => boolean): number;
  close(): Promise<void>;
}

/** A loopback TCP proxy to `targetPort` that can silently black-hole connections. */
export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const pairs: { client: Socket; upstream: Socket; opening: string; frozen: boolean }[] = [];

  const server: Server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    const pair = { client, upstream, opening: '', frozen: false };
    pairs.push(pair);

    client.on('data', (chunk) => {
      if (pair.opening.length < 1024) pair.opening += chunk.toString('latin1');
      if (!pair.frozen) upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (!pair.frozen) client.write(chunk);
    });
    const end = () => {
      if (pair.frozen) return;
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', () => {});
    upstream.on('error', () => {});
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;

  return {
    port,
    freeze(match) {
      let count = 0;
      for (const pair of pairs) {
        if (!pair.frozen && !pair.client.destroyed && match(pair.opening)) {
          pair.frozen = true;
          count++;
        }
      }
      return count;
    },
    async close() {
      for (const pair of pairs) {
        pair.client.destroy();
        pair.upstream.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
