/**
 * The baseline of the HTTP submission benchmark: a bare `node:http` server
 * that parses the JSON body and calls BullMQ's `queue.add` (or `addBulk`),
 * nothing else — no auth, no validation, no idempotency. Run as its own
 * process by bench/http-submit.ts; prints `listening <port>` when ready.
 */
import { createServer } from 'node:http';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';

const connection = new Redis(process.env.REDIS_URL!, { maxRetriesPerRequest: 1 });
const queue = new Queue('bare', { connection, prefix: 'bench-bare-http' });

const server = createServer((req, res) => {
  let body = '';
  req.on('data', (chunk) => (body += chunk));
  req.on('end', async () => {
    try {
      const parsed = JSON.parse(body);
      if (req.url === '/bulk') {
        const jobs = await queue.addBulk(parsed.jobs.map((j: { payload: unknown }) => ({ name: 'noop', data: j.payload })));
        res.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify({ ids: jobs.map((j) => j.id) }));
      } else {
        const job = await queue.add('noop', parsed.payload);
        res.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify({ id: job.id }));
      }
    } catch (err) {
      res.writeHead(503).end(String(err));
    }
  });
});
server.listen(Number(process.env.PORT), '127.0.0.1', () => process.stdout.write(`listening ${process.env.PORT}\n`));
