import webpush from 'web-push';
import { afterEach, describe, expect, it } from 'vitest';
import type { Runtime } from '../../../src/engine/index.ts';
import { startTestRuntime } from '../../helpers/runtime.ts';
import type { TestHttpServer } from '../http-test-server.ts';
import { QUICK_BREAKERS, rideOutOutage, startOutageGate, type OutageGate } from '../outage.ts';
import { finished } from '../support.ts';
import { browserSubscription, startFcm, startPushService } from './push-services.ts';

let runtime: Runtime | undefined;
let service: TestHttpServer | undefined;
let gate: OutageGate | undefined;
afterEach(async () => {
  await runtime?.stop();
  await gate?.close();
  await service?.close();
  runtime = service = gate = undefined;
});

const vapidKeys = webpush.generateVAPIDKeys();

async function start(push: Record<string, unknown>, config: Record<string, unknown> = {}) {
  runtime = await startTestRuntime({
    config: { ...config, defaults: { backoffMs: 50 }, outbound: { allow: ['127.0.0.1'] }, plugins: { settings: { push } } },
  });
  return runtime;
}

async function webPushSetup(path: string) {
  const browser = browserSubscription('');
  const push = await startPushService(browser);
  service = push.server;
  browser.subscription.endpoint = `${push.server.url}${path}`;
  const rt = await start({ vapid: { subject: 'mailto:ops@example.test', ...vapidKeys } });
  return { rt, push, subscription: browser.subscription };
}

describe('push.send: Web Push', () => {
  it('delivers an encrypted payload the browser key decrypts, signed with VAPID', async () => {
    const { rt, push, subscription } = await webPushSetup('/push/abc');

    const { id } = await rt.producer.submit({
      type: 'push.send',
      payload: { target: 'webpush', subscription, message: { title: 'Hi', url: '/inbox' }, ttlSeconds: 60, urgency: 'high' },
    });
    const job = await finished(rt, id);

    expect(job.state).toBe('completed');
    expect(push.delivered).toHaveLength(1);
    expect(JSON.parse(push.delivered[0].plaintext)).toEqual({ title: 'Hi', url: '/inbox' });
    expect(push.delivered[0]).toMatchObject({ ttl: '60', urgency: 'high' });
    expect(push.delivered[0].vapidClaims).toMatchObject({ aud: push.server.url, sub: 'mailto:ops@example.test' });
  });

  it('retries a 503 from the push service', async () => {
    const { rt, push, subscription } = await webPushSetup('/push/busy');

    const { id } = await rt.producer.submit({ type: 'push.send', payload: { target: 'webpush', subscription, message: 'ping' } });
    const job = await finished(rt, id);

    expect(job.state).toBe('completed');
    expect(job.attempts.map((a) => a.outcome)).toEqual(['failed', 'completed']);
    expect(push.delivered.map((d) => d.plaintext)).toEqual(['ping']);
  });

  it('defers pushes behind the push service\'s open breaker, using no retry, and delivers each once it recovers', async () => {
    const browser = browserSubscription('');
    const push = await startPushService(browser);
    service = push.server;
    gate = await startOutageGate(push.server.url);
    browser.subscription.endpoint = `${gate.url}/push/outage`;
    const rt = await start({ vapid: { subject: 'mailto:ops@example.test', ...vapidKeys } }, { breakers: QUICK_BREAKERS });
    let n = 0;

    await rideOutOutage(rt, gate, async (retries) => {
      const payload = { target: 'webpush', subscription: browser.subscription, message: `m${n++}` };
      return (await rt.producer.submit({ type: 'push.send', payload, retries })).id;
    });

    expect(push.delivered.map((d) => d.plaintext).sort()).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
  });

  it('reports an expired subscription (410) as permanent, without retrying', async () => {
    const { rt, subscription } = await webPushSetup('/push/gone');

    const { id } = await rt.producer.submit({ type: 'push.send', payload: { target: 'webpush', subscription, message: 'ping' } });
    const job = await finished(rt, id);

    expect(job.state).toBe('dlq');
    expect(job.attempts).toHaveLength(1);
    expect(job.attempts[0].error).toMatchObject({ name: 'PermanentError' });
    expect(job.attempts[0].error?.message).toMatch(/subscription expired \(410\)/);
  });
});

describe('push.send: FCM HTTP v1', () => {
  it('gets an OAuth2 token with the service account and sends the message', async () => {
    const fcm = await startFcm('demo-project');
    service = fcm.server;
    const rt = await start({ fcm: fcm.settings });

    const { id } = await rt.producer.submit({
      type: 'push.send',
      payload: { target: 'fcm', token: 'device-1', notification: { title: 'Order shipped' }, data: { orderId: '42' } },
    });
    const job = await finished(rt, id);

    expect(job.state).toBe('completed');
    expect(job.result).toEqual({ target: 'fcm', messageName: 'projects/demo-project/messages/1' });
    expect(fcm.messages).toEqual([{ token: 'device-1', notification: { title: 'Order shipped' }, data: { orderId: '42' } }]);
  });

  it('retries a 503 from FCM', async () => {
    const fcm = await startFcm('demo-project');
    service = fcm.server;
    const rt = await start({ fcm: fcm.settings });

    const { id } = await rt.producer.submit({ type: 'push.send', payload: { target: 'fcm', token: 'busy', data: { a: 'b' } } });
    const job = await finished(rt, id);

    expect(job.state).toBe('completed');
    expect(job.attempts).toHaveLength(2);
    expect(fcm.messages).toHaveLength(1);
  });

  it('defers messages behind FCM\'s open breaker, using no retry, and sends each once it recovers', async () => {
    const fcm = await startFcm('demo-project');
    service = fcm.server;
    gate = await startOutageGate(fcm.server.url);
    const rt = await start({ fcm: { ...fcm.settings, baseUrl: gate.url, tokenUrl: `${gate.url}/token` } }, { breakers: QUICK_BREAKERS });
    let n = 0;

    await rideOutOutage(rt, gate, async (retries) => {
      const payload = { target: 'fcm', token: `device-${n++}`, data: { a: 'b' } };
      return (await rt.producer.submit({ type: 'push.send', payload, retries })).id;
    });

    expect(fcm.messages.map((m: any) => m.token).sort()).toEqual(['device-0', 'device-1', 'device-2', 'device-3', 'device-4']);
  });

  it('reports an unregistered token (404 UNREGISTERED) as permanent, without retrying', async () => {
    const fcm = await startFcm('demo-project');
    service = fcm.server;
    const rt = await start({ fcm: fcm.settings });

    const { id } = await rt.producer.submit({ type: 'push.send', payload: { target: 'fcm', token: 'stale', data: { a: 'b' } } });
    const job = await finished(rt, id);

    expect(job.state).toBe('dlq');
    expect(job.attempts).toHaveLength(1);
    expect(job.attempts[0].error?.name).toBe('PermanentError');
    expect(job.attempts[0].error?.message).toMatch(/no longer registered/);
  });
});
