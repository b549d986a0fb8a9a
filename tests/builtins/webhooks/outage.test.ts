import { afterEach, expect, it } from 'vitest';
import type { Runtime } from '../../../src/engine/index.ts';
import { startTestRuntime, waitFor } from '../../helpers/runtime.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../../helpers/webhook-receiver.ts';

const SECRET = 'whsec_' + Buffer.from('a test secret of 32 bytes length').toString('base64');
const DOWN_MS = 60_000;
const OPEN_MS = 5000;
const THRESHOLD = 5;
const CONCURRENCY = 10;
const JOBS = 200;

let runtime: Runtime | undefined;
let receiver: WebhookReceiver | undefined;
afterEach(async () => {
  await runtime?.stop();
  await receiver?.close();
  runtime = receiver = undefined;
});

it('keeps 200 webhooks for a receiver that is down for 60 s and delivers them all when it recovers', async () => {
  // 1. A receiver that answers 503 until DOWN_MS has passed, noting when each request came.
  let down = true;
  const hitsWhileDown: number[] = [];
  receiver = await startWebhookReceiver(SECRET, () => {
    if (down) hitsWhileDown.push(Date.now());
    return down ? 503 : 200;
  });
  runtime = await startTestRuntime({
    config: {
      queues: { default: { concurrency: CONCURRENCY } },
      outbound: { allow: ['127.0.0.1'] },
      plugins: { settings: { webhooks: { secrets: { default: SECRET } } } },
      breakers: { failureThreshold: THRESHOLD, windowMs: DOWN_MS, openMs: OPEN_MS, halfOpenProbes: 1, deferSpreadMs: 1000 },
    },
  });
  const rt = runtime;
  let openedAt = 0;
  rt.events.on('breaker.opened', () => (openedAt ||= Date.now()));
  const recovery = setTimeout(() => (down = false), DOWN_MS);

  // 2. 200 deliveries arrive over the first 20 s of the outage, with the default retries.
  const ids: string[] = [];
  for (let i = 0; i < JOBS; i++) {
    const { id } = await rt.producer.submit({ type: 'webhook.deliver', payload: { url: `${receiver.url}/hook`, body: { n: i } } });
    ids.push(id);
    await new Promise((r) => setTimeout(r, 100));
  }

  // 3. After recovery every one is delivered, none dead-lettered.
  await waitFor(async () => !down, DOWN_MS + 5000, 500);
  const jobs = await waitFor(async () => {
    const views = await Promise.all(ids.map((id) => rt.jobs.get(id)));
    return views.every((j) => j.state === 'completed' || j.state === 'dlq') ? views : undefined;
  }, 60_000, 500);
  clearTimeout(recovery);

  expect(jobs.filter((j) => j.state === 'completed')).toHaveLength(JOBS);
  expect((await rt.dlq.list({})).entries).toEqual([]);
  const delivered = new Set(receiver.received.filter((r) => r.status === 200 && r.verified).map((r) => r.id));
  expect(delivered.size).toBe(JOBS);

  // 4. While it was down the receiver saw the few failures that opened the
  //    breaker, then only probes: one at a time, at least OPEN_MS apart.
  expect(openedAt).toBeGreaterThan(0);
  // Requests already on their way when it opened still land just after.
  const inFlight = openedAt + 250;
  const beforeOpen = hitsWhileDown.filter((t) => t <= inFlight);
  const probes = hitsWhileDown.filter((t) => t > inFlight);
  expect(beforeOpen.length).toBeLessThanOrEqual(THRESHOLD + CONCURRENCY);
  expect(probes.length).toBeGreaterThan(0);
  expect(probes.length).toBeLessThanOrEqual(Math.ceil(DOWN_MS / OPEN_MS) + 1);
  const gaps = probes.slice(1).map((t, i) => t - probes[i]);
  for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(OPEN_MS * 0.9);
  expect(probes[0] - openedAt).toBeGreaterThanOrEqual(OPEN_MS * 0.9);
}, 180_000);
