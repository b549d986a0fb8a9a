import type { Job } from 'bullmq';
import type { Keys, RedisClient } from '../redis/index.ts';
import type { Logger } from './logger.ts';
import type { QueueSet } from './queues.ts';

/**
 * Jobs whose type no loaded plugin provides. Such a job is not failed and
 * uses no retry: it goes back to the delayed set, is marked as waiting for a
 * handler, and is looked at again after a while, or at once when a plugin
 * providing its type starts serving in any process.
 *
 * The mark is a member `<queue>|<jobId>` of a set per job type. It is written
 * after the job is delayed: a process dying in between leaves an unmarked
 * delayed job, which still runs at its next look.
 */
export class ParkedJobs {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
  ) {}

  /**
   * Delays a job this worker holds until `recheckMs` from now and marks it.
   * `served` is asked once the mark is written: a plugin that started serving
   * the type meanwhile may have looked for marks before this one existed, so
   * the job is sent back at once instead of waiting for its next look.
   */
  async park(job: Job, token: string | undefined, queue: string, recheckMs: number, served: () => boolean): Promise<void> {
    await job.moveToDelayed(Date.now() + recheckMs, token);
    const key = this.keys.parked(job.name);
    await this.redis.sadd(key, member(queue, job.id!));
    if (served()) {
      await this.redis.srem(key, member(queue, job.id!));
      // Fails only when the job already left the delayed set, which is what was wanted.
      await job.promote().catch(() => undefined);
    }
  }

  async isParked(type: string, queue: string, jobId: string): Promise<boolean> {
    return (await this.redis.sismember(this.keys.parked(type), member(queue, jobId))) === 1;
  }

  /**
   * Sends the parked jobs of `types` back to their queues at once and clears
   * their marks. A job another process already took is just unmarked.
   */
  async wake(types: string[], queues: QueueSet, log?: Logger): Promise<number> {
    let woken = 0;
    for (const type of types) {
      const key = this.keys.parked(type);
      for (const entry of await this.redis.smembers(key)) {
        const [queueName, jobId] = entry.split('|');
        if (queues.has(queueName)) {
          const job = await queues.get(queueName).getJob(jobId);
          if (job && (await job.isDelayed())) {
            // Promotion fails when the job left the delayed set since the check: it is running then.
            await job.promote().then(() => woken++, () => undefined);
          }
        }
        await this.redis.srem(key, entry);
      }
    }
    if (woken) log?.info({ types, jobs: woken }, 'jobs waiting for a handler sent back to their queues');
    return woken;
  }
}

function member(queue: string, jobId: string): string {
  return `${queue}|${jobId}`;
}
