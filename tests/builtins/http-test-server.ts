import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A request a test server received, body read whole. */
export interface ReceivedRequest {
  method: string;
  url: URL;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

export interface TestHttpServer {
  url: string;
  requests: ReceivedRequest[];
  close(): Promise<void>;
}

type Reply = (req: ReceivedRequest, res: ServerResponse) => void | Promise<void>;

/** A plain HTTP server on a free loopback port that records each request and lets `reply` answer. */
export async function startHttpServer(reply: Reply): Promise<TestHttpServer> {
  const requests: ReceivedRequest[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const received = { method: req.method!, url: new URL(req.url!, 'http://127.0.0.1'), headers: req.headers, body: Buffer.concat(chunks) };
    requests.push(received);
    try {
      await reply(received, res);
    } catch (err) {
      res.writeHead(500).end(String(err));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** Sends a JSON answer. */
export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
}
