import { Job } from 'bullmq';
import { queueOfJobId, type AttemptRecord, type JobEnvelope, type JobState } from '../core/index.ts';
import type { Keys, RedisClient } from '../redis/index.ts';
import { ATTEMPTS_FIELD, parseAttempts } from './attempts.ts';
import { NotFoundError, UnavailableError } from './errors.ts';
import { publicState } from './producer.ts';
import type { QueueSet } from './queues.ts';

/** A job as the API shows it. */
export interface JobView {
  id: string;
  type: string;
  queue: string;
  state: JobState;
  /** True while the job waits for a plugin to provide its type again (it uses up no retry meanwhile). */
  waitingForHandler?: boolean;
  payload: unknown;
  options: {
    priority: string;
    tenant?: string;
    idempotencyKey?: string;
    retries: number;
    timeoutMs: number;
    delayMs?: number;
  };
  submittedBy?: string;
  attemptsMade: number;
  attempts: AttemptRecord[];
  progress: unknown;
  result?: unknown;
  error?: string;
  timestamps: { createdAt: number; startedAt?: number; finishedAt?: number };
}

/** Reads jobs for the API and the CLI. */
export class JobReader {
  constructor(
    private readonly queues: QueueSet,
    private readonly redis: RedisClient,
    private readonly keys: Keys,
  ) {}

  async get(id: string): Promise<JobView> {
    const queueName = queueOfJobId(id);
    if (!queueName || !this.queues.has(queueName)) throw new NotFoundError(`job ${id} not found`);

    const queue = this.queues.get(queueName);
    let job: Job<JobEnvelope> | undefined;
    let state: string;
    let rawAttempts: string | null;
    try {
      // The state first, the job after: read the other way round, a job finishing in between
      // would show as completed without its result.
      state = await queue.getJobState(id);
      job = await Job.fromId<JobEnvelope>(queue, id);
      if (!job) throw new NotFoundError(`job ${id} not found`);
      rawAttempts = await this.redis.hget(this.keys.job(queueName, id), ATTEMPTS_FIELD);
    } catch (err) {
      if (err instanceof NotFoundError) throw err;
      throw new UnavailableError(`Redis cannot read the job: ${(err as Error).message}`, { cause: err });
    }

    const data = (job.data ?? {}) as Partial<JobEnvelope>;
    return {
      id,
      type: job.name,
      queue: queueName,
      state: publicState(state),
      waitingForHandler: state === 'delayed' ? await this.waitsForHandler(job.name, queueName, id) : undefined,
      payload: data.payload,
      options: {
        priority: data.priority ?? 'normal',
        tenant: data.tenant,
        idempotencyKey: data.idempotencyKey,
        retries: Math.max(0, (job.opts.attempts ?? 1) - 1),
        timeoutMs: data.timeoutMs ?? 0,
        delayMs: job.opts.delay || undefined,
      },
      submittedBy: data.submittedBy,
      attemptsMade: job.attemptsMade,
      attempts: parseAttempts(rawAttempts),
      progress: job.progress,
      result: job.returnvalue ?? undefined,
      error: job.failedReason || undefined,
      timestamps: {
        createdAt: job.timestamp,
        startedAt: job.processedOn || undefined,
        finishedAt: job.finishedOn || undefined,
      },
    };
  }

  /** Whether a delayed job is parked because no plugin provides its type (see parked.ts). */
  private async waitsForHandler(type: string, queue: string, id: string): Promise<boolean> {
    const marked = await this.redis.sismember(this.keys.parked(type), `${queue}|${id}`).catch(() => 0);
    return marked === 1;
  }
}
