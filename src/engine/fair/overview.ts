import { PRIORITIES, type Priority, type QueueSummary } from '../../core/index.ts';
import type { Keys, RedisClient } from '../../redis/index.ts';
import { UnavailableError } from '../errors.ts';
import { queueDepths } from '../metrics/depth.ts';
import type { QueueSet } from '../queues.ts';
import { readyHeldRange } from './hold.ts';

/** Tenants listed per queue, most waiting jobs first. */
const TOP_TENANTS = 10;

/** Jobs of BullMQ's wait list read to tell their class; the list is short in a fair queue. */
const WAIT_LIST_READ = 1000;

/** BullMQ scores a prioritised job `priority * 2^32 + counter`. */
const PRIORITY_SPAN = 0x100000000;


/**
 * Reads every queue's counts for `GET /api/v1/queues`. Per class and per
 * tenant counts come from the fair lists (a cancelled job may be counted
 * until the dispatcher passes its entry), BullMQ's prioritised set and the
 * short wait list.
 */
export async function queueSummaries(queues: QueueSet, redis: RedisClient, keys: Keys): Promise<QueueSummary[]> {
  const depths = await queueDepths(queues, queues.names, redis, keys);
  try {
    return await Promise.all(
      queues.names.map(async (name) => {
        const settings = queues.settings(name);
        const [byPriority, topTenants] = await classesAndTenants(redis, keys, name);
        const depth = depths[name];
        return {
          name,
          fair: settings?.fair ?? false,
          concurrency: settings?.concurrency ?? 10,
          limiter: settings?.limiter,
          types: settings?.types ?? [],
          weights: { ...(settings?.weights ?? { critical: 8, high: 4, normal: 2, low: 1 }) },
          waiting: depth.waiting,
          waitingByPriority: byPriority,
          topTenants,
          active: depth.active,
          delayed: depth.delayed,
          completed: depth.completed,
          failed: depth.failed,
        };
      }),
    );
  } catch (err) {
    throw new UnavailableError(`Redis cannot count jobs: ${(err as Error).message}`, { cause: err });
  }
}

async function classesAndTenants(
  redis: RedisClient,
  keys: Keys,
  queue: string,
): Promise<[Record<Priority, number>, { tenant: string; waiting: number }[]]> {
  const byPriority = Object.fromEntries(PRIORITIES.map((p) => [p, 0])) as Record<Priority, number>;
  const byTenant = new Map<string, number>();
  const fair = keys.fair(queue);

  // 1. The fair lists: one per class and tenant in the class's ring.
  const rings = await Promise.all(PRIORITIES.map((p) => redis.lrange(`${fair}ring:${p}`, 0, -1)));
  const pipeline = redis.pipeline();
  PRIORITIES.forEach((p, i) => rings[i].forEach((tenant) => pipeline.llen(`${fair}q:${p}:${tenant}`)));
  const lengths = ((await pipeline.exec()) ?? []).map(([, n]) => Number(n) || 0);
  let at = 0;
  PRIORITIES.forEach((p, i) => {
    for (const tenant of rings[i]) {
      const n = lengths[at++];
      byPriority[p] += n;
      byTenant.set(tenant, (byTenant.get(tenant) ?? 0) + n);
    }
  });

  // 2. BullMQ's prioritised set (queues without fairness, and jobs BullMQ requeued itself).
  const prioritized = keys.bullKey(queue, 'prioritized');
  const counts = await Promise.all(
    PRIORITIES.map((_, i) => redis.zcount(prioritized, (i + 1) * PRIORITY_SPAN, (i + 2) * PRIORITY_SPAN - 1)),
  );
  PRIORITIES.forEach((p, i) => (byPriority[p] += counts[i]));

  // 3. BullMQ's wait list: jobs handed over, not yet fetched.
  const waiting = await redis.lrange(keys.bullKey(queue, 'wait'), 0, WAIT_LIST_READ - 1);
  if (waiting.length) {
    const read = redis.pipeline();
    for (const id of waiting) read.hget(keys.job(queue, id), 'priority');
    for (const [, value] of (await read.exec()) ?? []) {
      const p = PRIORITIES[Number(value) - 1];
      if (p) byPriority[p]++;
    }
  }

  // 4. Held jobs ready but not yet listed (no dispatcher ran since they became ready).
  const [min, max] = readyHeldRange();
  const unlisted = await redis.zrangebyscore(keys.bullKey(queue, 'delayed'), min, max, 'LIMIT', 0, WAIT_LIST_READ);
  if (unlisted.length) {
    const read = redis.pipeline();
    for (const id of unlisted) read.hget(keys.job(queue, id), 'data');
    for (const [, value] of (await read.exec()) ?? []) {
      const { priority, tenant } = envelopeHead(value);
      if (priority) byPriority[priority]++;
      byTenant.set(tenant, (byTenant.get(tenant) ?? 0) + 1);
    }
  }

  const topTenants = [...byTenant.entries()]
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1])
    .slice(0, TOP_TENANTS)
    .map(([tenant, waiting]) => ({ tenant, waiting }));
  return [byPriority, topTenants];
}

function envelopeHead(raw: unknown): { priority?: Priority; tenant: string } {
  try {
    const data = JSON.parse(String(raw));
    return { priority: PRIORITIES.includes(data.priority) ? data.priority : 'normal', tenant: typeof data.tenant === 'string' ? data.tenant : '' };
  } catch {
    // Not TaskMaster's envelope: counted in the total only.
    return { tenant: '' };
  }
}
