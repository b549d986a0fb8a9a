import { createServer, type IncomingMessage, type Server } from 'node:http';
import { Webhook } from 'standardwebhooks';

export interface ReceivedWebhook {
  path: string;
  id: string;
  body: unknown;
  verified: boolean;
  status: number;
}

export interface WebhookReceiver {
  url: string;
  received: ReceivedWebhook[];
  close(): Promise<void>;
}

/**
 * A local webhook receiver that verifies every delivery with the
 * `standardwebhooks` package and answers with the status `answer` picks.
 */
export async function startWebhookReceiver(
  secret: string,
  answer: (req: IncomingMessage, nth: number) => number | { status: number; headers?: Record<string, string> },
): Promise<WebhookReceiver> {
  const verifier = new Webhook(secret);
  const received: ReceivedWebhook[] = [];
  const counts = new Map<string, number>();

  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');

    let verified = true;
    try {
      verifier.verify(raw, req.headers as Record<string, string>);
    } catch {
      verified = false;
    }
    const id = String(req.headers['webhook-id']);
    const nth = (counts.get(id) ?? 0) + 1;
    counts.set(id, nth);

    const reply = answer(req, nth);
    const { status, headers } = typeof reply === 'number' ? { status: reply, headers: {} } : reply;
    received.push({ path: req.url ?? '/', id, body: raw ? JSON.parse(raw) : undefined, verified, status });
    res.writeHead(status, headers).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as { port: number };

  return {
    url: `http://127.0.0.1:${address.port}`,
    received,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
