import { afterEach, describe, expect, it } from 'vitest';
import type { Runtime } from '../../src/engine/index.ts';
import { startTestRuntime, waitFor } from '../helpers/runtime.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.ts';

const SECRET = 'whsec_' + Buffer.from('a test secret of 32 bytes length').toString('base64');

let runtime: Runtime | undefined;
let receiver: WebhookReceiver | undefined;
afterEach(async () => {
  await runtime?.stop();
  await receiver?.close();
  runtime = receiver = undefined;
});

async function start(allow: string[]) {
  runtime = await startTestRuntime({
    config: {
      defaults: { backoffMs: 50 },
      outbound: { allow },
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

describe('outbound guard on jobs', () => {
  it('fails a webhook to loopback once, without retries, when loopback is not allowed', async () => {
    receiver = await startWebhookReceiver(SECRET, () => 200);
    const rt = await start([]);

    const { id } = await rt.producer.submit({ type: 'webhook.deliver', payload: { url: receiver.url, body: {} }, retries: 3 });
    const job = await settled(rt, id);

    expect(job.state).toBe('dlq');
    expect(job.attempts).toHaveLength(1);
    expect(job.attempts[0].error?.name).toBe('PermanentError');
    expect(job.attempts[0].error?.message).toMatch(/outbound request refused: 127\.0\.0\.1 is a loopback address/);
    expect(receiver.received).toEqual([]);
  });

  it('fails a webhook to the metadata address without sending anything', async () => {
    const rt = await start(['127.0.0.1']);

    const { id } = await rt.producer.submit({
      type: 'webhook.deliver',
      payload: { url: 'http://169.254.169.254/latest/meta-data/iam', body: {} },
    });
    const job = await settled(rt, id);

    expect(job.state).toBe('dlq');
    expect(job.attempts).toHaveLength(1);
    expect(job.attempts[0].error?.message).toMatch(/169\.254\.169\.254 is a linkLocal address/);
  });

  it('delivers to loopback when the configuration allows it', async () => {
    receiver = await startWebhookReceiver(SECRET, () => 200);
    const rt = await start(['127.0.0.1/32']);

    const { id } = await rt.producer.submit({ type: 'webhook.deliver', payload: { url: receiver.url, body: {} } });

    expect((await settled(rt, id)).state).toBe('completed');
    expect(receiver.received).toHaveLength(1);
  });
});
