import { afterEach, describe, expect, it } from 'vitest';
import type { Runtime } from '../../../src/engine/index.ts';
import { startTestRuntime, waitFor } from '../../helpers/runtime.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../../helpers/webhook-receiver.ts';

const SECRET = 'whsec_' + Buffer.from('a test secret of 32 bytes length').toString('base64');

let runtime: Runtime | undefined;
let receiver: WebhookReceiver | undefined;
afterEach(async () => {
  await runtime?.stop();
  await receiver?.close();
  runtime = receiver = undefined;
});

async function start() {
  runtime = await startTestRuntime({
    config: {
      defaults: { backoffMs: 50 },
      // The receiver listens on loopback, which the outbound guard refuses unless allowed.
      outbound: { allow: ['127.0.0.1'] },
      plugins: { settings: { webhooks: { secrets: { default: SECRET } } } },
    },
  });
  return runtime;
}

async function settled(rt: Runtime, id: string) {
  return waitFor(async () => {
    const job = await rt.jobs.get(id);
    return ['completed', 'dlq'].includes(job.state) ? job : undefined;
  });
}

describe('webhook.deliver', () => {
  it('delivers a signed body that standardwebhooks verifies', async () => {
    receiver = await startWebhookReceiver(SECRET, () => 204);
    const rt = await start();

    const { id } = await rt.producer.submit({
      type: 'webhook.deliver',
      payload: { url: `${receiver.url}/hooks/order`, body: { order: 42 } },
    });
    const job = await settled(rt, id);

    expect(job.state).toBe('completed');
    expect(receiver.received).toEqual([
      { path: '/hooks/order', id: `msg_${id}`, body: { order: 42 }, verified: true, status: 204 },
    ]);
  });

  it('retries 503 until 200, sending the same webhook-id every time', async () => {
    receiver = await startWebhookReceiver(SECRET, (_req, nth) => (nth < 3 ? 503 : 200));
    const rt = await start();

    const { id } = await rt.producer.submit({ type: 'webhook.deliver', payload: { url: receiver.url, body: { n: 1 } } });
    const job = await settled(rt, id);

    expect(job.state).toBe('completed');
    expect(receiver.received.map((r) => r.status)).toEqual([503, 503, 200]);
    expect(new Set(receiver.received.map((r) => r.id))).toEqual(new Set([`msg_${id}`]));
    expect(receiver.received.every((r) => r.verified)).toBe(true);
  });

  it('honours Retry-After on 429', async () => {
    receiver = await startWebhookReceiver(SECRET, (_req, nth) =>
      nth === 1 ? { status: 429, headers: { 'retry-after': '1' } } : 200,
    );
    const rt = await start();

    const { id } = await rt.producer.submit({ type: 'webhook.deliver', payload: { url: receiver.url, body: {} } });
    const job = await settled(rt, id);

    expect(job.state).toBe('completed');
    const gap = job.attempts[1].startedAt - job.attempts[0].endedAt;
    expect(gap).toBeGreaterThanOrEqual(900);
  });

  it('does not retry a 400', async () => {
    receiver = await startWebhookReceiver(SECRET, () => 400);
    const rt = await start();

    const { id } = await rt.producer.submit({ type: 'webhook.deliver', payload: { url: receiver.url, body: {} } });
    const job = await settled(rt, id);

    expect(job.state).toBe('dlq');
    expect(receiver.received).toHaveLength(1);
    expect(job.attempts).toHaveLength(1);
    expect(job.attempts[0].error?.name).toBe('PermanentError');
  });

  it('retries a refused connection', async () => {
    receiver = await startWebhookReceiver(SECRET, () => 200);
    const url = receiver.url;
    await receiver.close();
    receiver = undefined;
    const rt = await start();

    const { id } = await rt.producer.submit({ type: 'webhook.deliver', payload: { url, body: {} }, retries: 2 });
    const job = await settled(rt, id);

    expect(job.state).toBe('dlq');
    expect(job.attempts).toHaveLength(3);
  });
});
