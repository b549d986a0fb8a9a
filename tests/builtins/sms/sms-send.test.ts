import { afterEach, describe, expect, it } from 'vitest';
import type { Runtime } from '../../../src/engine/index.ts';
import { startTestRuntime } from '../../helpers/runtime.ts';
import { json, startHttpServer, type TestHttpServer } from '../http-test-server.ts';
import { QUICK_BREAKERS, rideOutOutage, startOutageGate, type OutageGate } from '../outage.ts';
import { finished } from '../support.ts';

const SID = 'AC0123456789';
const TOKEN = 'secret-token';

let runtime: Runtime | undefined;
let provider: TestHttpServer | undefined;
let gate: OutageGate | undefined;
afterEach(async () => {
  await runtime?.stop();
  await gate?.close();
  await provider?.close();
  runtime = provider = gate = undefined;
});

/**
 * A Twilio-style Messages API: checks the account path and Basic credentials,
 * refuses an invalid number with code 21211, and rate-limits once with 429
 * when told to.
 */
async function startProvider(options: { rateLimitOnce?: string } = {}) {
  let limited = false;
  let count = 0;
  return startHttpServer((req, res) => {
    const expected = `Basic ${Buffer.from(`${SID}:${TOKEN}`).toString('base64')}`;
    if (req.headers.authorization !== expected) return json(res, 401, { code: 20003, message: 'Authenticate' });
    if (req.method !== 'POST' || req.url.pathname !== `/2010-04-01/Accounts/${SID}/Messages.json`) return json(res, 404, { code: 20404 });

    const form = new URLSearchParams(req.body.toString());
    if (form.get('To') === '+15005550001') return json(res, 400, { code: 21211, message: "The 'To' number is not a valid phone number." });
    if (options.rateLimitOnce && !limited) {
      limited = true;
      return json(res, 429, { code: 20429, message: 'Too Many Requests' }, { 'retry-after': options.rateLimitOnce });
    }
    json(res, 201, { sid: `SM${++count}`, status: 'queued', to: form.get('To'), from: form.get('From'), body: form.get('Body') });
  });
}

async function start(baseUrl: string, config: Record<string, unknown> = {}) {
  runtime = await startTestRuntime({
    config: {
      ...config,
      defaults: { backoffMs: 50 },
      outbound: { allow: ['127.0.0.1'] },
      plugins: { settings: { sms: { baseUrl, accountSid: SID, authToken: TOKEN, from: '+15005550006' } } },
    },
  });
  return runtime;
}

describe('sms.send', () => {
  it('posts the message to the provider with the configured account and sender', async () => {
    provider = await startProvider();
    const rt = await start(provider.url);

    const { id } = await rt.producer.submit({ type: 'sms.send', payload: { to: '+447700900123', body: 'Your code is 1234' } });
    const job = await finished(rt, id);

    expect(job.state).toBe('completed');
    expect(job.result).toEqual({ sid: 'SM1', status: 'queued' });
    const form = new URLSearchParams(provider.requests[0].body.toString());
    expect(Object.fromEntries(form)).toEqual({ To: '+447700900123', Body: 'Your code is 1234', From: '+15005550006' });
  });

  it('waits out a 429 for as long as Retry-After asks, then sends once', async () => {
    provider = await startProvider({ rateLimitOnce: '1' });
    const rt = await start(provider.url);

    const { id } = await rt.producer.submit({ type: 'sms.send', payload: { to: '+447700900123', body: 'hi' } });
    const job = await finished(rt, id);

    expect(job.state).toBe('completed');
    expect(job.attempts[0].error?.name).toBe('RetryAfterError');
    const gap = job.attempts[1].startedAt - job.attempts[0].endedAt;
    expect(gap).toBeGreaterThanOrEqual(900);
    expect(provider.requests).toHaveLength(2);
  });

  it('defers sends behind the provider host\'s open breaker, using no retry, and sends each once it recovers', async () => {
    provider = await startProvider();
    gate = await startOutageGate(provider.url);
    const rt = await start(gate.url, { breakers: QUICK_BREAKERS });
    let n = 0;

    await rideOutOutage(rt, gate, async (retries) => {
      const { id } = await rt.producer.submit({ type: 'sms.send', payload: { to: `+4477009001${n++}0`, body: 'hi' }, retries });
      return id;
    });

    // Each message reached the provider exactly once.
    expect(provider.requests).toHaveLength(5);
  });

  it('fails for good, once, on a number the provider calls invalid', async () => {
    provider = await startProvider();
    const rt = await start(provider.url);

    const { id } = await rt.producer.submit({ type: 'sms.send', payload: { to: '+15005550001', body: 'hi' } });
    const job = await finished(rt, id);

    expect(job.state).toBe('dlq');
    expect(job.attempts).toHaveLength(1);
    expect(job.attempts[0].error).toMatchObject({ name: 'PermanentError' });
    expect(job.attempts[0].error?.message).toMatch(/21211/);
  });

  it('fails for good when the configured credentials are refused', async () => {
    provider = await startProvider();
    runtime = await startTestRuntime({
      config: {
        outbound: { allow: ['127.0.0.1'] },
        plugins: { settings: { sms: { baseUrl: provider.url, accountSid: SID, authToken: 'wrong', from: '+15005550006' } } },
      },
    });

    const { id } = await runtime.producer.submit({ type: 'sms.send', payload: { to: '+447700900123', body: 'hi' } });
    const job = await finished(runtime, id);

    expect(job.attempts).toHaveLength(1);
    expect(job.attempts[0].error?.name).toBe('PermanentError');
  });

  it('keeps to a queue limiter when sms.send is routed to a queue of its own', async () => {
    provider = await startProvider();
    const times: number[] = [];
    runtime = await startTestRuntime({
      config: {
        queues: { default: { concurrency: 10 }, sms: { concurrency: 10, limiter: { max: 2, durationMs: 1000 } } },
        outbound: { allow: ['127.0.0.1'] },
        plugins: { settings: { sms: { baseUrl: provider.url, accountSid: SID, authToken: TOKEN, from: '+15005550006' } } },
      },
    });
    runtime.events.on('attempt.started', () => times.push(Date.now()));

    const jobs = await runtime.producer.submitBulk(
      [1, 2, 3, 4].map((n) => ({ type: 'sms.send', queue: 'sms', payload: { to: `+4477009001${n}0`, body: 'hi' } })),
    );
    for (const { id } of jobs) expect((await finished(runtime, id)).state).toBe('completed');

    // Two per second: the third start comes at least about a second after the first.
    times.sort((a, b) => a - b);
    expect(times).toHaveLength(4);
    expect(times[2] - times[0]).toBeGreaterThanOrEqual(900);
  });

  it('rejects a number not in E.164 form at submission, naming the field', async () => {
    const rt = await start('http://127.0.0.1:1');

    const err = await rt.producer.submit({ type: 'sms.send', payload: { to: '07700 900123', body: 'hi' } }).catch((e) => e);

    expect(err.name).toBe('ValidationError');
    expect(err.issues[0].field).toBe('payload.to');
  });
});
