import { createServer } from 'node:http';
import { Webhook } from 'standardwebhooks';

export interface ReceiverStats {
  deliveries: number;
  verified: number;
  badSignatures: number;
  answered503: number;
  answered400: number;
}

/**
 * The demo's webhook receiver on loopback. Every delivery is verified with
 * the `standardwebhooks` package. The path picks the answer: `/ok` 200,
 * `/flaky` 503 on a delivery's first try and 200 after, `/reject` 400.
 */
export async function startDemoReceiver(secret: string) {
  const verifier = new Webhook(secret);
  const stats: ReceiverStats = { deliveries: 0, verified: 0, badSignatures: 0, answered503: 0, answered400: 0 };
  const tries = new Map<string, number>();

  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    stats.deliveries++;
    try {
      verifier.verify(Buffer.concat(chunks).toString('utf8'), req.headers as Record<string, string>);
      stats.verified++;
    } catch {
      stats.badSignatures++;
    }

    const id = String(req.headers['webhook-id']);
    const nth = (tries.get(id) ?? 0) + 1;
    tries.set(id, nth);

    let status = 200;
    if (req.url?.startsWith('/flaky') && nth === 1) status = 503;
    if (req.url?.startsWith('/reject')) status = 400;
    if (status === 503) stats.answered503++;
    if (status === 400) stats.answered400++;
    res.writeHead(status).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));

  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    stats,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
