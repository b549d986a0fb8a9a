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
      job = await Job.fromId<JobEnvelope>(queue, id);
      if (!job) throw new NotFoundError(`job ${id} not found`);
      [state, rawAttempts] = await Promise.all([
        job.getState(),
        this.redis.hget(this.keys.job(queueName, id), ATTEMPTS_FIELD),
      ]);
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
}
