import { createHash, randomBytes } from 'node:crypto';
import { Job } from 'bullmq';
import { bullPriority, queueOfJobId, type JobEnvelope, type Priority } from '../core/index.ts';
import type { Registry } from '../plugins/index.ts';
import type { Keys, RedisClient } from '../redis/index.ts';
import type { JobHistory } from './browse/history.ts';
import type { DeadLetterFilter, DeadLetterQueue } from './dead-letter-queue.ts';
import { ConflictError, fieldIssues, NotFoundError, ValidationError } from './errors.ts';
import type { JobEvents } from './events.ts';
import { CANCEL_FIELD, endedJobFrom, forgetEntries, readJobHistory, writeEntry } from './final-states.ts';
import type { Logger } from './logger.ts';
import { publicState, type Producer } from './producer.ts';
import type { QueueSet } from './queues.ts';
import { unmaskEdited } from './secrets.ts';
import { defineFairCommands } from './fair/dispatch-script.ts';
import { jobStateOf } from './fair/job-state.ts';

export interface CancelResult {
  id: string;
  /** `cancelled` at once for a waiting or delayed job; `active` while a running one is being stopped. */
  state: 'cancelled' | 'active';
}

export interface PriorityChange {
  id: string;
  /** The priority before the change. */
  from: Priority;
  priority: Priority;
  /** `waiting` or `delayed`: the change applies when the job is next dispatched. */
  state: 'waiting' | 'delayed';
}

export interface PromoteResult {
  id: string;
  /** `waiting`: it runs as soon as a worker is free. */
  state: 'waiting';
  /** When it was due before it was promoted, ms since the epoch. */
  wasDueAt: number;
}

export interface ReplayOptions {
  /** A corrected payload, checked against the job type's schema. */
  payload?: unknown;
  /** Retries for the new job; default the original job's. */
  retries?: number;
  /** Replay even when this entry was replayed before (a new job each time). */
  again?: boolean;
  /** Who asked (API key name, `cli`). */
  by?: string;
}

export interface ReplayResult {
  entryId: string;
  jobId: string;
  /** True when the entry had been replayed before and no new job was made. */
  duplicate: boolean;
}

/*
 * markCancel
 * KEYS[1]  the job's BullMQ hash
 * ARGV[1]  cancel field   ARGV[2]  request JSON (at, by)
 * Returns 1 when marked, 0 when the job does not exist (no orphan key is made).
 */
const MARK_CANCEL = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
`;

/** BullMQ's error code for a job that is not in the state a script expects. */
const JOB_NOT_IN_STATE = -3;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    tmMarkCancel(key: string, field: string, request: string): Promise<number>;
  }
}

/** What operators do to jobs: cancel, change priority, retry, replay from the DLQ. */
export class JobControl {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly queues: QueueSet,
    private readonly registry: Registry,
    private readonly producer: Producer,
    private readonly dlq: DeadLetterQueue,
    private readonly events: JobEvents,
    private readonly log: Logger,
    private readonly history: JobHistory,
  ) {
    if (typeof (redis as any).tmMarkCancel !== 'function') {
      redis.defineCommand('tmMarkCancel', { numberOfKeys: 1, lua: MARK_CANCEL });
    }
    defineFairCommands(redis);
  }

  /**
   * Cancels a waiting, delayed or active job:
   * 1. marks the job cancelled, so a worker picking it up now ends it instead;
   * 2. waiting or delayed: records it as cancelled, then removes it from
   *    BullMQ (if it became active meanwhile, the record is taken back);
   * 3. active: tells every worker through pub/sub; the one running it fires
   *    the handler's signal and the job ends as cancelled. A message lost on
   *    the way changes nothing: that worker's lock keeper reads the mark of
   *    step 1 within a quarter of the lock time and fires the signal.
   */
  async cancel(id: string, by?: string): Promise<CancelResult> {
    const queueName = this.queueOf(id);
    const queue = this.queues.get(queueName);
    const state = await this.stateOf(queueName, id);
    if (state !== 'waiting' && state !== 'delayed' && state !== 'active') {
      throw new ConflictError(`job ${id} is ${state}; only waiting, delayed or active jobs can be cancelled`, { state });
    }

    // 1. The mark.
    const jobKey = this.keys.job(queueName, id);
    const marked = await this.redis.tmMarkCancel(jobKey, CANCEL_FIELD, JSON.stringify({ at: Date.now(), by }));
    if (!marked) throw new NotFoundError(`job ${id} not found`);

    // 2. Not running: record, then remove.
    if (state !== 'active') {
      const [hash, history] = await Promise.all([this.redis.hgetall(jobKey), readJobHistory(this.redis, this.keys, queueName, id)]);
      const entry = endedJobFrom(hash, { id, jobId: id, queue: queueName, reason: 'cancelled', endedAt: Date.now(), history });
      await writeEntry(this.redis, this.keys, 'cancelled', entry, { onlyIfFailed: false, overwrite: true });
      if ((await queue.remove(id)) === 1) {
        this.log.info({ queue: queueName, jobId: id, type: entry.type, from: state }, 'job cancelled');
        this.events.emit('job.cancelled', { queue: queueName, jobId: id, type: entry.type, from: state, tenant: entry.tenant });
        return { id, state: 'cancelled' };
      }
      // It started meanwhile: the worker ends it through the mark or the message below.
      await forgetEntries(this.redis, this.keys, 'cancelled', queueName, [entry]);
    }

    // 3. Running: stop it where it runs.
    await this.redis.publish(this.keys.cancelChannel(), id);
    return { id, state: 'active' };
  }

  /**
   * Changes the priority class of a waiting or delayed job; it applies at the
   * job's next dispatch. 409 (`ConflictError`) for a job that is running or
   * ended. The change is kept in the job's history.
   */
  async changePriority(id: string, priority: Priority, by?: string): Promise<PriorityChange> {
    const queueName = this.queueOf(id);
    const state = await this.stateOf(queueName, id);
    if (state !== 'waiting' && state !== 'delayed') {
      throw new ConflictError(`job ${id} is ${state}; only waiting or delayed jobs can change priority`, { state });
    }
    const job = await Job.fromId<JobEnvelope>(this.queues.get(queueName), id);
    if (!job) throw new NotFoundError(`job ${id} not found`);

    // The class lives in the data (read by the fair dispatcher) and in BullMQ's
    // priority field (read by BullMQ when it requeues the job itself).
    const from = job.data?.priority ?? 'normal';
    const { priority: _old, tenant, ...rest } = job.data ?? ({} as JobEnvelope);
    await job.updateData({ priority, tenant, ...rest });
    if (this.queues.settings(queueName)?.fair) {
      await this.redis.hset(this.keys.job(queueName, id), 'priority', bullPriority(priority));
      await this.redis.tmFairRelist(this.keys.bullKey(queueName, 'delayed'), this.keys.job(queueName, id), id, Date.now());
    } else {
      await job.changePriority({ priority: bullPriority(priority) });
    }
    await this.history.append(queueName, id, {
      at: Date.now(),
      kind: 'priority.changed',
      by,
      message: `priority changed from ${from} to ${priority}`,
      details: { from, to: priority },
    });
    this.log.info({ queue: queueName, jobId: id, from, to: priority }, 'job priority changed');
    return { id, from, priority, state };
  }

  /**
   * Runs a delayed job now: BullMQ moves it from the delayed set to the
   * ready list in one script, so a job that stopped being delayed meanwhile
   * (it came due, was cancelled) is refused with a conflict, never run twice.
   * A history entry records who did it and when it was due.
   */
  async promote(id: string, by?: string): Promise<PromoteResult> {
    const queueName = this.queueOf(id);
    // The state wherever the job is (the DLQ and cancelled records included); 404 when nowhere.
    const notDelayed = async () => {
      const state = await this.stateOf(queueName, id);
      return new ConflictError(`job ${id} is ${state}; only delayed jobs can be promoted`, { state });
    };
    const job = await Job.fromId(this.queues.get(queueName), id);
    if (!job || (await job.getState()) !== 'delayed') throw await notDelayed();

    // 1. Move it; BullMQ's script refuses (code -3) a job not in the delayed set.
    const moved = await job.promote().then(
      () => true,
      (err: Error) => {
        // A job that left the delayed set between the read and the move.
        if ((err as Error & { code?: number }).code === JOB_NOT_IN_STATE) return false;
        throw err;
      },
    );
    if (!moved) throw await notDelayed();

    // 2. The record: the audit log is the caller's; the history is the job's.
    const wasDueAt = job.timestamp + (job.opts.delay ?? 0);
    const entry = {
      at: Date.now(),
      kind: 'promoted',
      by,
      message: `promoted: runs now instead of at ${new Date(wasDueAt).toISOString()}`,
      details: { wasDueAt },
    };
    // The job already moved: a lost history line must not turn that into an error.
    await this.history
      .append(queueName, id, entry)
      .catch((err) => this.log.warn({ err, jobId: id }, 'cannot record the promotion in the job history'));
    this.log.info({ queue: queueName, jobId: id, type: job.name, by }, 'delayed job promoted');
    return { id, state: 'waiting', wasDueAt };
  }

  /**
   * Retries a job that failed for good: one in the DLQ is replayed (once,
   * like any replay); one still in BullMQ's failed set is retried in place.
   */
  async retry(id: string, by?: string): Promise<ReplayResult> {
    const queueName = this.queueOf(id);
    const entry = await this.dlq.findByJob(queueName, id);
    if (entry) return this.replay(entry.id, { by });

    const job = await Job.fromId(this.queues.get(queueName), id);
    if (!job) {
      if (await this.redis.hexists(this.keys.cancelledEntries(queueName), id)) {
        throw new ConflictError(`job ${id} is cancelled; only failed jobs can be retried`, { state: 'cancelled' });
      }
      throw new NotFoundError(`job ${id} not found`);
    }
    const state = await job.getState();
    if (state !== 'failed') throw new ConflictError(`job ${id} is ${publicState(state)}; only failed jobs can be retried`, { state: publicState(state) });
    await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
    return { entryId: '', jobId: id, duplicate: false };
  }

  /**
   * Replays a DLQ entry as a new job with a fresh retry budget, linked to the
   * entry (`replayOf`). The first replay's job id derives from the entry id,
   * so two replays racing make one job; a later replay without `again`
   * returns the earlier one. Secret fields are opened and submitted again
   * (sealed anew); in an edited payload, a secret field left as the mask
   * keeps its stored value.
   */
  async replay(entryId: string, options: ReplayOptions = {}): Promise<ReplayResult> {
    // 1. The entry and the payload to use, checked before anything is written.
    const entry = await this.dlq.stored(entryId);
    const edited = options.payload !== undefined;
    if (!edited && entry.rawData !== undefined) {
      throw new ValidationError('the stored payload is not JSON; send a corrected payload', [
        { field: 'payload', message: 'required: the stored payload cannot be replayed as it is' },
      ]);
    }
    const paths = entry.secretPaths;
    const stored = paths?.length && entry.rawData === undefined ? this.producer.openSecrets(entry.payload, paths) : entry.payload;
    const payload = edited ? unmaskEdited(options.payload, stored, paths) : stored;
    const type = this.registry.get(entry.type);
    if (!type) throw new ValidationError(`unknown job type ${entry.type}`, [{ field: 'type', message: `unknown job type ${entry.type}` }]);
    const parsed = type.definition.schema.safeParse(payload);
    if (!parsed.success) throw new ValidationError('payload does not match the job type schema', fieldIssues('payload', parsed.error.issues));

    // 2. Claim the replay on the entry: a second one without `again` stops here.
    const jobId = replayJobId(entry.queue, entryId, options.again ? randomBytes(8).toString('hex') : '');
    const claimed = await this.dlq.recordReplay(entryId, { jobId, at: Date.now(), by: options.by, edited }, Boolean(options.again));
    if (!claimed) {
      const latest = (await this.dlq.get(entryId)).replays.at(-1);
      return { entryId, jobId: latest?.jobId ?? jobId, duplicate: true };
    }

    // 3. The new job.
    const submission = {
      type: entry.type,
      payload,
      queue: entry.queue,
      priority: entry.priority,
      tenant: entry.tenant,
      retries: options.retries ?? entry.retries,
      timeoutMs: entry.timeoutMs,
      backoff: entry.backoff,
    };
    await this.producer.submit(dropUndefined(submission), options.by, { jobId, replayOf: entryId });
    this.log.info({ entryId, jobId, type: entry.type, edited }, 'DLQ entry replayed');
    this.events.emit('job.replayed', { queue: entry.queue, entryId, jobId, type: entry.type, edited });
    return { entryId, jobId, duplicate: false };
  }

  /**
   * Replays every entry matching `filter` that was not replayed before.
   * Returns how many new jobs were made and how many entries were skipped.
   */
  async replayMatching(
    filter: DeadLetterFilter,
    options: { by?: string; onProgress?: (done: number) => void } = {},
  ): Promise<{ replayed: number; skipped: number }> {
    // Collected first: each replay changes the entries the pages are built from.
    const ids: string[] = [];
    for await (const entry of this.dlq.all(filter)) ids.push(entry.id);

    let replayed = 0;
    let skipped = 0;
    for (const id of ids) {
      const result = await this.replay(id, { by: options.by }).catch((err) => {
        if (err instanceof ValidationError || err instanceof NotFoundError) return undefined;
        throw err;
      });
      if (result && !result.duplicate) replayed++;
      else skipped++;
      options.onProgress?.(replayed + skipped);
    }
    return { replayed, skipped };
  }

  /** The job's state, including the ones outside BullMQ (DLQ, cancelled). */
  private async stateOf(queueName: string, id: string) {
    const state = publicState(await jobStateOf(this.queues.get(queueName), this.redis, this.keys, queueName, id));
    if (state !== 'unknown') return state;
    if (await this.redis.hexists(this.keys.dlqByJob(queueName), id)) return 'dlq';
    if (await this.redis.hexists(this.keys.cancelledEntries(queueName), id)) return 'cancelled';
    throw new NotFoundError(`job ${id} not found`);
  }

  private queueOf(id: string): string {
    const queue = queueOfJobId(id);
    if (!queue || !this.queues.has(queue)) throw new NotFoundError(`job ${id} not found`);
    return queue;
  }
}

/** `<queue>.r<digest>`: a replay's job id, the same for the same entry and nonce. */
function replayJobId(queue: string, entryId: string, nonce: string): string {
  const digest = createHash('sha256').update(`${entryId}\u0000${nonce}`).digest('base64url');
  return `${queue}.r${digest.slice(0, 32).replace(/[-_]/g, 'x')}`;
}

function dropUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
