import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Runtime } from '../../src/engine/index.ts';
import { startHttpServer } from '../builtins/http-test-server.ts';
import { QUICK_BREAKERS, rideOutOutage, startOutageGate } from '../builtins/outage.ts';
import { createTestDatabase } from '../helpers/postgres.ts';
import { startTestRuntime, tempDir, uniquePrefix, waitFor } from '../helpers/runtime.ts';

const runtimes: Runtime[] = [];
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((r) => r.stop()));
});

/** The same flaky handler twice: once on the event loop, once in a thread of its own. */
const PLUGIN = `import { appendFileSync, writeFileSync } from 'node:fs';
import { threadId } from 'node:worker_threads';
import { definePlugin, PermanentError, RetryAfterError, z } from 'taskmaster/sdk';

const flakySchema = z.object({
  failures: z.number().int().min(0),
  permanent: z.boolean().default(false),
  retryAfterMs: z.number().int().optional(),
});
function flaky(payload, ctx) {
  if (ctx.attempt > payload.failures) return { attempt: ctx.attempt, threadId };
  if (payload.permanent) throw new PermanentError('permanent failure on attempt ' + ctx.attempt, { reason: 'no_way' });
  if (payload.retryAfterMs !== undefined) throw new RetryAfterError('come back later', payload.retryAfterMs);
  throw new Error('failure on attempt ' + ctx.attempt);
}

export default definePlugin({
  name: 'iso',
  version: '4.5.6',
  jobs: {
    'inline.flaky': { schema: flakySchema, handler: flaky },
    'iso.flaky': { isolated: true, schema: flakySchema, handler: flaky },
    'iso.cpu': {
      isolated: true,
      schema: z.object({ ms: z.number(), file: z.string() }),
      handler: ({ ms, file }, ctx) => {
        appendFileSync(file, ctx.jobId + '\\n');
        const end = Date.now() + ms;
        while (Date.now() < end) {}
        return { spunMs: ms };
      },
    },
    'iso.report': {
      isolated: true,
      schema: z.object({}),
      handler: async (_payload, ctx) => {
        ctx.log.info({ step: 1 }, 'working');
        await ctx.progress(40);
        await ctx.checkpoint.set({ step: 1 });
        const saved = await ctx.checkpoint.get();
        const draft = await ctx.files.create({ name: 'out.txt', contentType: 'text/plain' });
        writeFileSync(draft.path, 'written in a thread');
        const file = await draft.commit();
        const next = await ctx.submit({ type: 'inline.flaky', payload: { failures: 0 }, idempotencyKey: ctx.jobId + ':next' });
        await ctx.progress({ step: 'done' });
        return { config: ctx.config, threadId, jobId: ctx.jobId, saved, fileId: file.id, nextId: next.id };
      },
    },
    'iso.services': {
      isolated: true,
      schema: z.object({}),
      handler: async (_payload, ctx) => {
        const db = ctx.db('main');
        await db.query('CREATE TABLE IF NOT EXISTS notes (n int PRIMARY KEY)');
        await db.transaction(async (tx) => {
          await tx.query('INSERT INTO notes VALUES (1), (2)');
          await tx.query('INSERT INTO notes VALUES (3)');
        });
        const rolledBack = await db
          .transaction(async (tx) => {
            await tx.query('INSERT INTO notes VALUES (4)');
            throw new Error('changed my mind');
          })
          .catch((err) => err.message);
        const streamed = [];
        for await (const row of db.stream('SELECT n FROM notes ORDER BY n', [], { batchSize: 1 })) streamed.push(row.n);
        const sqlError = await db.query('SELECT * FROM no_such_table').catch((err) => ({ name: err.name, reason: err.reason }));
        const unknownDb = await ctx.db('nowhere').query('SELECT 1').catch((err) => ({ name: err.name, reason: err.reason }));

        await ctx.kv.set('seen', { at: 'thread' });
        await ctx.cache.set('greeting', 'hello', 60_000);
        const flow = await ctx.flow.add({ type: 'inline.flaky', payload: { failures: 0 }, children: [{ type: 'inline.flaky', payload: { failures: 0 } }] });
        return { rolledBack, streamed, sqlError, unknownDb, kv: await ctx.kv.get('seen'), cache: await ctx.cache.get('greeting'), flowId: flow.id };
      },
    },
    'iso.call': {
      isolated: true,
      schema: z.object({ url: z.string(), n: z.number() }),
      handler: async ({ url }, ctx) => {
        const response = await ctx.http.fetch(url, { method: 'POST' });
        await response.body?.cancel();
        if (!response.ok) throw new Error('answered ' + response.status);
        return { status: response.status };
      },
    },
    'iso.hang': { isolated: true, schema: z.object({}), handler: () => new Promise(() => {}) },
    'iso.crash': { isolated: true, schema: z.object({}), handler: () => process.exit(3) },
  },
});
`;

function pluginDir(): string {
  const dir = tempDir('tm-iso-');
  writeFileSync(join(dir, 'iso.ts'), PLUGIN);
  return dir;
}

async function start(dir: string, extra: Record<string, any> = {}) {
  const runtime = await startTestRuntime({
    config: {
      plugins: { dirs: [dir], builtins: false, watch: false, settings: { iso: { region: 'eu' } } },
      defaults: { backoffMs: 50 },
      ...extra,
    },
  });
  runtimes.push(runtime);
  return runtime;
}

async function finished(rt: Runtime, id: string) {
  await waitFor(async () => ['completed', 'dlq'].includes((await rt.jobs.get(id)).state), 30_000);
  return rt.jobs.get(id);
}

describe('isolated job types', () => {
  it('treats PermanentError and RetryAfterError from a thread exactly as on the event loop', async () => {
    const rt = await start(pluginDir());
    const scenarios = [
      { payload: { failures: 5, permanent: true }, retries: 5 },
      { payload: { failures: 1, retryAfterMs: 600 }, retries: 2 },
      { payload: { failures: 2 }, retries: 3 },
      { payload: { failures: 9 }, retries: 1 },
    ];

    for (const { payload, retries } of scenarios) {
      const [inline, isolated] = await Promise.all(
        ['inline.flaky', 'iso.flaky'].map(async (type) => {
          const { id } = await rt.producer.submit({ type, payload, retries });
          return finished(rt, id);
        }),
      );
      const shape = (job: typeof inline) => ({
        state: job.state,
        attempts: job.attempts.map((a) => [a.outcome, a.error?.name, a.error?.message, a.pluginVersion, a.pluginHash]),
        error: job.error,
        result: job.result && { attempt: (job.result as any).attempt },
      });
      expect(shape(isolated), JSON.stringify(payload)).toEqual(shape(inline));
      if (payload.retryAfterMs) {
        const gap = isolated.attempts[1].startedAt - isolated.attempts[0].endedAt;
        expect(gap).toBeGreaterThanOrEqual(540);
        expect(gap).toBeLessThan(600 * 1.1 + 1000);
      }
    }
  });

  it('runs in a thread of its own with progress, settings, engine services and the version recorded', async () => {
    const rt = await start(pluginDir());
    const { id } = await rt.producer.submit({ type: 'iso.report', payload: {} });

    const job = await finished(rt, id);

    expect(job.state).toBe('completed');
    expect(job.result).toMatchObject({ config: { region: 'eu' }, jobId: id, saved: { step: 1 } });
    const { fileId, nextId } = job.result as { fileId: string; nextId: string };
    expect(readFileSync((await rt.files.get(fileId))!.path, 'utf8')).toBe('written in a thread');
    expect((await finished(rt, nextId)).state).toBe('completed');
    expect((job.result as any).threadId).toBeGreaterThan(0);
    expect(job.progress).toEqual({ step: 'done' });
    expect(job.attempts[0]).toMatchObject({ plugin: 'iso', pluginVersion: '4.5.6', pluginHash: rt.registry.get('iso.report')!.plugin.hash });
  });

  it('gives a thread the databases, key-value store, cache and flows, as on the event loop', async () => {
    const database = await createTestDatabase();
    try {
      const rt = await start(pluginDir(), { databases: { main: { url: database.url } } });
      const { id } = await rt.producer.submit({ type: 'iso.services', payload: {} });

      const job = await finished(rt, id);

      expect(job.state).toBe('completed');
      const result = job.result as Record<string, any>;
      expect(result).toMatchObject({
        rolledBack: 'changed my mind',
        streamed: [1, 2, 3],
        sqlError: { name: 'PermanentError' },
        unknownDb: { name: 'PermanentError', reason: 'unknown_database' },
        kv: { at: 'thread' },
        cache: 'hello',
      });
      expect((await database.pool.query('SELECT n FROM notes ORDER BY n')).rows.map((r) => r.n)).toEqual([1, 2, 3]);
      expect(await rt.services.kvOf('iso').get('seen')).toEqual({ at: 'thread' });
      expect((await finished(rt, result.flowId)).state).toBe('completed');
      // No connection left checked out: the test database drops without force needed.
      const { rows } = await database.pool.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND state = 'idle in transaction'");
      expect(rows[0].n).toBe(0);
    } finally {
      await Promise.all(runtimes.splice(0).map((r) => r.stop()));
      await database.drop();
    }
  });

  it('defers a thread\'s job behind its request host\'s open breaker, using no retry', async () => {
    const target = await startHttpServer((_req, res) => void res.writeHead(200).end());
    const gate = await startOutageGate(target.url);
    try {
      const rt = await start(pluginDir(), { outbound: { allow: ['127.0.0.1'] }, breakers: QUICK_BREAKERS });
      let n = 0;

      const { late } = await rideOutOutage(rt, gate, async (retries) => (await rt.producer.submit({ type: 'iso.call', payload: { url: gate.url, n: n++ }, retries })).id);

      // The refusal crossed from the thread by name, naming the host.
      const deferred = late.flatMap((job) => job.attempts.filter((a) => a.outcome === 'deferred'));
      expect(deferred.map((a) => a.error)).toContainEqual(expect.objectContaining({ name: 'BreakerOpenError', message: expect.stringContaining(gate.host) }));
    } finally {
      await Promise.all(runtimes.splice(0).map((r) => r.stop()));
      await gate.close();
      await target.close();
    }
  });

  it('ends a thread that never settles at the timeout, and one that exits, without harm to the worker', async () => {
    const rt = await start(pluginDir());
    const hang = await rt.producer.submit({ type: 'iso.hang', payload: {}, timeoutMs: 300, retries: 0 });
    const crash = await rt.producer.submit({ type: 'iso.crash', payload: {}, retries: 1 });

    const [hung, crashed] = await Promise.all([finished(rt, hang.id), finished(rt, crash.id)]);

    expect(hung.state).toBe('dlq');
    expect(hung.attempts[0].error?.name).toBe('TimeoutError');
    expect(crashed.state).toBe('dlq');
    expect(crashed.attempts.map((a) => a.error?.name)).toEqual(['IsolatedThreadExit', 'IsolatedThreadExit']);
    const { id } = await rt.producer.submit({ type: 'inline.flaky', payload: { failures: 0 } });
    expect((await finished(rt, id)).state).toBe('completed');
  });

  it('runs a CPU-bound job that blocks longer than its lock exactly once, with two workers watching for stalls', async () => {
    const dir = pluginDir();
    const prefix = uniquePrefix();
    // A lock far shorter than the job, yet long enough for a busy machine to renew it in time.
    const worker = { lockDurationMs: 2000, stalledIntervalMs: 500 };
    const rt = await start(dir, { redis: { prefix }, worker });
    await start(dir, { redis: { prefix }, worker });
    const file = join(tempDir('tm-iso-runs-'), 'runs.txt');
    writeFileSync(file, '');

    const { id } = await rt.producer.submit({ type: 'iso.cpu', payload: { ms: 6000, file }, retries: 2 });
    const job = await finished(rt, id);

    expect(job.state).toBe('completed');
    expect(job.attempts).toHaveLength(1);
    expect(readFileSync(file, 'utf8').trim().split('\n')).toEqual([id]);
  });
});
