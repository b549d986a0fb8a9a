import type { Keys, RedisClient } from '../redis/index.ts';
import { parseAttempts, ATTEMPTS_FIELD } from './attempts.ts';
import type { JobEvents } from './events.ts';
import {
  CANCEL_FIELD,
  deadLetterReason,
  dlqEntryId,
  endedJobFrom,
  readJobHistory,
  writeEntry,
  type EndedKind,
} from './final-states.ts';
import type { Logger } from './logger.ts';
import type { QueueSet } from './queues.ts';

const SWEEP_BATCH = 100;

/**
 * Takes jobs out of BullMQ's failed set, where BullMQ leaves a job that
 * failed for good, and puts each where it belongs: the DLQ, or the
 * cancelled jobs when someone cancelled it while it ran. The worker that
 * failed a job settles it at once; a sweep on a timer settles whatever a
 * crashed process left behind.
 *
 * Jobs of a flow are settled like any other. A child that fails for good has
 * already left its parent's dependencies and failed the parent (flows are
 * stored with `failParentOnFailure`), so removing it changes nothing for the
 * parent; a parent is removed without its children, which stay where they
 * are (completed, or still to run: their results then have no parent to go to).
 */
export class Settler {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly queues: QueueSet,
    private readonly events: JobEvents,
    private readonly log: Logger,
  ) {}

  /**
   * Moves one failed job: 1. read its hash; 2. write its record (only while
   * it is still in the failed set); 3. remove the BullMQ job. Returns where
   * it went, or undefined when it was not a failed job.
   */
  async settle(queue: string, jobId: string): Promise<EndedKind | undefined> {
    // 1. The job as BullMQ left it.
    const jobKey = this.keys.job(queue, jobId);
    const hash = await this.redis.hgetall(jobKey);
    if (!hash || !Object.keys(hash).length) return undefined;

    // 2. Its record, with its history and (a flow parent) its children, which BullMQ deletes with it.
    const [history, { children, childFailed }] = await Promise.all([
      readJobHistory(this.redis, this.keys, queue, jobId),
      this.childrenOf(jobKey),
    ]);
    const kind: EndedKind = hash[CANCEL_FIELD] ? 'cancelled' : 'dlq';
    const createdAt = Number(hash.timestamp) || 0;
    const endedAt = Number(hash.finishedOn) || Date.now();
    const retries = retriesOf(hash.opts);
    // A child failing for good fails its parent before the parent's handler runs.
    const reason = kind === 'cancelled' ? 'cancelled' : childFailed ? 'child_failed' : deadLetterReason(parseAttempts(hash[ATTEMPTS_FIELD]), retries);
    const id = kind === 'cancelled' ? jobId : dlqEntryId(jobId, createdAt);
    const entry = endedJobFrom(hash, { id, jobId, queue, reason, endedAt, history, children });
    const written = await writeEntry(this.redis, this.keys, kind, entry, { onlyIfFailed: true, overwrite: kind === 'cancelled' });
    if (!written) return undefined;

    // 3. Out of BullMQ: from now on the job is only in its store. A flow parent's children stay.
    await this.queues.get(queue).remove(jobId, { removeChildren: false });

    if (kind === 'dlq') {
      this.log.warn({ queue, jobId, type: entry.type, reason, attempts: entry.attempts.length }, 'job moved to the DLQ');
      this.events.emit('job.dead-lettered', { queue, jobId, entryId: id, type: entry.type, reason, tenant: entry.tenant });
    } else {
      this.log.info({ queue, jobId, type: entry.type }, 'job cancelled');
      this.events.emit('job.cancelled', { queue, jobId, type: entry.type, from: 'active', tenant: entry.tenant });
    }
    return kind;
  }

  /**
   * A flow parent's children, by job key (finished, failed, and still to
   * run), and whether one failed for good (BullMQ's `unsuccessful` set).
   */
  private async childrenOf(jobKey: string): Promise<{ children: string[]; childFailed: boolean }> {
    const [processed, failed, unsuccessful, pending] = await Promise.all([
      this.redis.hkeys(`${jobKey}:processed`),
      this.redis.hkeys(`${jobKey}:failed`),
      this.redis.zrange(`${jobKey}:unsuccessful`, 0, -1),
      this.redis.smembers(`${jobKey}:dependencies`),
    ]);
    const children = [...new Set([...processed, ...failed, ...unsuccessful, ...pending])].sort();
    return { children, childFailed: unsuccessful.length > 0 };
  }

  /** Settles every job found in the failed sets of `queues`; returns how many moved. */
  async sweep(queues: readonly string[]): Promise<number> {
    let moved = 0;
    for (const queue of queues) {
      let offset = 0;
      for (;;) {
        const ids = await this.redis.zrange(this.keys.bullKey(queue, 'failed'), offset, offset + SWEEP_BATCH - 1);
        if (!ids.length) break;
        let settledHere = 0;
        for (const id of ids) {
          const kind = await this.settle(queue, id).catch((err) => {
            this.log.error({ err, queue, jobId: id }, 'could not settle failed job');
            return undefined;
          });
          if (kind) settledHere++;
        }
        moved += settledHere;
        // Settled jobs left the set; the ones that could not be settled are stepped over.
        offset += ids.length - settledHere;
        if (ids.length < SWEEP_BATCH) break;
      }
    }
    return moved;
  }
}

function retriesOf(rawOpts: string | undefined): number {
  try {
    return Math.max(0, Number(JSON.parse(rawOpts ?? '{}')?.attempts ?? 1) - 1);
  } catch {
    // Options unreadable: count as no retries, which only affects the reason's wording.
    return 0;
  }
}
