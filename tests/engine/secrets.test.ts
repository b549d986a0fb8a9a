import { createHash, randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SecretBox, secretPaths, type Runtime } from '../../src/engine/index.ts';
import { secret, z } from '../../src/sdk/index.ts';
import { startTestRuntime, waitFor } from '../helpers/runtime.ts';

const PLUGINS = resolve(import.meta.dirname, '..', 'fixtures', 'secure-plugins');
const KEY = randomBytes(32).toString('base64');
const TOKEN = 'tok_' + randomBytes(12).toString('hex');

let runtime: Runtime | undefined;
afterEach(async () => {
  await runtime?.stop();
  runtime = undefined;
});

describe('secretPaths', () => {
  it('finds secret fields through objects, arrays, optional and default wrappers', () => {
    const schema = z.object({
      a: secret(z.string()),
      b: z.object({ c: secret(z.string()).optional(), d: z.string() }),
      list: z.array(z.object({ pin: secret(z.number()) })).default([]),
      map: z.record(z.string(), secret(z.string())),
    });
    const value = { a: 'x', b: { d: 'y' }, list: [{ pin: 1 }, { pin: 2 }], map: { k: 'v' } };

    expect(secretPaths(schema, value)).toEqual([['a'], ['list', 0, 'pin'], ['list', 1, 'pin'], ['map', 'k']]);
  });
});

describe('SecretBox', () => {
  it('opens what it sealed and refuses altered data or another key', () => {
    const box = new SecretBox(KEY);
    const sealed = box.seal({ deep: TOKEN });

    expect(sealed).not.toContain(TOKEN);
    expect(box.open(sealed)).toEqual({ deep: TOKEN });
    const flipped = sealed.slice(0, -2) + (sealed.endsWith('A') ? 'BB' : 'AA');
    expect(() => box.open(flipped)).toThrow(/cannot be decrypted/);
    expect(() => new SecretBox(randomBytes(32).toString('base64')).open(sealed)).toThrow(/cannot be decrypted/);
  });
});

describe('secret payload fields', () => {
  it('are encrypted in Redis, masked when read, and clear only in the handler', async () => {
    runtime = await startTestRuntime({ config: { plugins: { dirs: [PLUGINS] }, secrets: { key: KEY } } });
    const payload = { user: 'ada', token: TOKEN, cards: [{ last4: '4242', pin: 1234 }] };

    const { id, queue } = await runtime.producer.submit({ type: 'vault.use', payload });
    const job = await waitFor(async () => {
      const view = await runtime!.jobs.get(id);
      return view.state === 'completed' ? view : undefined;
    });

    const stored = await runtime.redis.hget(runtime.keys.job(queue, id), 'data');
    expect(stored).toContain('tmenc:v1:');
    expect(stored).not.toContain(TOKEN);
    expect(stored).not.toContain('1234');
    expect(job.payload).toEqual({ user: 'ada', token: '[secret]', cards: [{ last4: '4242', pin: '[secret]' }] });
    expect(job.result).toEqual({ user: 'ada', tokenSha: createHash('sha256').update(TOKEN).digest('hex'), pinSum: 1234 });
  });

  it('are refused, naming the field, when no secrets.key is configured', async () => {
    runtime = await startTestRuntime({ workers: false, config: { plugins: { dirs: [PLUGINS] } } });

    const err = await runtime.producer.submit({ type: 'vault.use', payload: { user: 'ada', token: TOKEN } }).catch((e) => e);

    expect(err.name).toBe('ValidationError');
    expect(err.issues).toEqual([{ field: 'payload.token', message: expect.stringMatching(/no secrets.key/) }]);
  });
});

describe('secret payload fields in the DLQ', () => {
  it('are masked in the entry and clear again in the handler of a replay, as stored or kept through an edit', async () => {
    runtime = await startTestRuntime({ config: { plugins: { dirs: [PLUGINS] }, secrets: { key: KEY } } });
    const rt = runtime;
    const sha = (text: string) => createHash('sha256').update(text).digest('hex');
    const ended = (id: string, state: string) =>
      waitFor(async () => {
        const view = await rt.jobs.get(id);
        return view.state === state ? view : undefined;
      });

    // 1. A job with secret fields fails for good; its entry records which fields are sealed.
    const payload = { user: 'nobody', token: TOKEN, cards: [{ last4: '4242', pin: 1234 }] };
    const { id } = await rt.producer.submit({ type: 'vault.use', payload, retries: 0 });
    const dead = await ended(id, 'dlq');
    const entry = await rt.dlq.get(dead.dlqEntryId!);
    expect(dead.error).toContain(sha(TOKEN).slice(0, 12));
    expect(entry.secretPaths).toEqual([['token'], ['cards', 0, 'pin']]);
    expect(entry.payload).toEqual({ user: 'nobody', token: '[secret]', cards: [{ last4: '4242', pin: '[secret]' }] });
    expect(dead.payload).toEqual(entry.payload);

    // 2. Replayed as stored: the handler gets the clear token again (it fails the same way, naming it).
    const plain = await rt.control.replay(entry.id);
    expect((await ended(plain.jobId, 'dlq')).error).toContain(sha(TOKEN).slice(0, 12));

    // 3. Replayed with an edit that leaves the secret fields as shown: they keep their stored values.
    const edited = await rt.control.replay(entry.id, { payload: { ...(entry.payload as object), user: 'ada' }, again: true });
    const job = await ended(edited.jobId, 'completed');
    expect(job.result).toEqual({ user: 'ada', tokenSha: sha(TOKEN), pinSum: 1234 });
    const stored = await rt.redis.hget(rt.keys.job(job.queue, edited.jobId), 'data');
    expect(stored).toContain('tmenc:v1:');
    expect(stored).not.toContain(TOKEN);
  });
});

describe('what a handler can reach', () => {
  it('sees its own plugin settings only, and nothing of API keys', async () => {
    runtime = await startTestRuntime({
      config: {
        plugins: { dirs: [PLUGINS], settings: { vault: { region: 'eu' }, webhooks: { secrets: { default: 'whsec_other' } } } },
        api: { keys: [{ name: 'k', key: 'a-configured-api-key-000', scopes: ['admin'] }] },
      },
    });

    const { id } = await runtime.producer.submit({ type: 'vault.probe', payload: {} });
    const job = await waitFor(async () => {
      const view = await runtime!.jobs.get(id);
      return view.state === 'completed' ? view : undefined;
    });

    const seen = job.result as { contextKeys: string[]; config: unknown };
    expect(seen.config).toEqual({ region: 'eu' });
    expect(seen.contextKeys).not.toContain('keys');
    expect(seen.contextKeys).not.toContain('settings');
    expect(JSON.stringify(job.result)).not.toContain('whsec_other');
    expect(JSON.stringify(job.result)).not.toContain('a-configured-api-key-000');
  });
});
