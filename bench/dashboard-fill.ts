import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { idempotentJobId } from '../src/core/index.ts';
import { BUCKET_COUNT } from '../src/engine/metrics/histogram.ts';

/** How the bench's jobs are spread over states. */
export const SPREAD = { waiting: 0.4, delayed: 0.1, completed: 0.3, failed: 0.2 } as const;
const TYPES = ['email.send', 'webhook.deliver', 'report.build', 'data.import'];
const TENANTS = ['acme', 'globex', 'initech', 'umbrella', 'hooli'];
const PRIORITIES = ['critical', 'high', 'normal', 'low'];
const BATCH = 5_000;

export interface Filled {
  ids: string[];
  idempotencyKeys: { key: string; tenant: string }[];
}

/**
 * Writes `count` jobs of queue `default` straight into Redis in BullMQ's own
 * layout (job hashes plus the wait/prioritized, delayed, completed and failed
 * sets), in pipelines of 5 000: the same keys BullMQ and TaskMaster write,
 * without running a million submissions through the API.
 */
export async function fillJobs(redis: Redis, prefix: string, count: number, onProgress: (done: number) => void): Promise<Filled> {
  const base = `${prefix}:{default}`;
  const now = Date.now();
  const sample: string[] = [];
  const keyed: { key: string; tenant: string }[] = [];

  for (let start = 0; start < count; start += BATCH) {
    const pipeline = redis.pipeline();
    for (let i = start; i < Math.min(count, start + BATCH); i++) {
      const state = stateOf(i / count);
      const tenant = TENANTS[i % TENANTS.length];
      const priority = PRIORITIES[i % PRIORITIES.length];
      const idempotencyKey = i % 1000 === 0 ? `order-${i}` : undefined;
      const id = idempotencyKey ? idempotentJobId('default', tenant, idempotencyKey) : `default.bench${i.toString(36).padStart(8, '0')}`;
      const created = now - (count - i) * 50;
      const data = {
        payload: { to: `user${i}@example.test`, subject: `Order ${i} shipped`, items: i % 7, note: i % 9973 === 0 ? 'rare-needle' : 'ordinary' },
        priority,
        tenant,
        idempotencyKey,
        timeoutMs: 300_000,
        submissionId: createHash('md5').update(String(i)).digest('base64url'),
        submittedBy: 'bench',
      };
      const fields: Record<string, string | number> = {
        name: TYPES[i % TYPES.length],
        data: JSON.stringify(data),
        opts: JSON.stringify({ attempts: 6, backoff: { type: 'taskmaster', delay: 1000 }, priority: PRIORITIES.indexOf(priority) + 1 }),
        timestamp: created,
        delay: state === 'delayed' ? 3_600_000 : 0,
        priority: PRIORITIES.indexOf(priority) + 1,
        atm: state === 'failed' ? 6 : state === 'completed' ? 1 : 0,
      };
      if (state === 'completed' || state === 'failed') {
        fields.processedOn = created + 20;
        fields.finishedOn = created + 40;
      }
      if (state === 'completed') fields.returnvalue = JSON.stringify({ messageId: `m${i}` });
      if (state === 'failed') fields.failedReason = `SMTP 550 mailbox unavailable for user${i}`;
      pipeline.hset(`${base}:${id}`, fields);

      if (state === 'waiting') pipeline.zadd(`${base}:prioritized`, (PRIORITIES.indexOf(priority) + 1) * 0x100000000 + i, id);
      if (state === 'delayed') pipeline.zadd(`${base}:delayed`, (created + 3_600_000) * 0x1000 + (i & 0xfff), id);
      if (state === 'completed') pipeline.zadd(`${base}:completed`, created + 40, id);
      if (state === 'failed') pipeline.zadd(`${base}:failed`, created + 40, id);

      if (i % 997 === 0) sample.push(id);
      if (idempotencyKey) keyed.push({ key: idempotencyKey, tenant });
    }
    await pipeline.exec();
    onProgress(Math.min(count, start + BATCH));
  }
  return { ids: sample, idempotencyKeys: keyed };
}

/** 24 hours of per-minute metrics for every job type, as worker processes would flush them. */
export async function fillMetrics(redis: Redis, prefix: string): Promise<void> {
  const nowMinute = Math.floor(Date.now() / 60_000);
  const pipeline = redis.pipeline();
  for (let m = nowMinute - 24 * 60; m <= nowMinute; m++) {
    const key = `${prefix}:{metrics}:m:${m}`;
    const fields: Record<string, number> = {};
    for (const type of TYPES) {
      const series = `default|${type}`;
      fields[`${series}|c`] = 600 + (m % 60);
      fields[`${series}|f`] = 6 + (m % 5);
      fields[`${series}|ws`] = 30_000;
      fields[`${series}|rs`] = 90_000;
      for (let b = 0; b < BUCKET_COUNT; b++) {
        if (b < 8) fields[`${series}|w${b}`] = 80 - b * 9;
        if (b < 10) fields[`${series}|d${b}`] = 70 - b * 6;
      }
    }
    pipeline.hset(key, fields);
    pipeline.pexpire(key, 26 * 3_600_000);
  }
  await pipeline.exec();
}

function stateOf(fraction: number): keyof typeof SPREAD {
  if (fraction < SPREAD.waiting) return 'waiting';
  if (fraction < SPREAD.waiting + SPREAD.delayed) return 'delayed';
  if (fraction < SPREAD.waiting + SPREAD.delayed + SPREAD.completed) return 'completed';
  return 'failed';
}
