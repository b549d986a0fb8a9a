import { Job } from 'bullmq';
import { queueOfJobId, type AttemptRecord, type JobEnvelope, type JobState } from '../core/index.ts';
import type { Keys, RedisClient } from '../redis/index.ts';
import { ATTEMPTS_FIELD, parseAttempts } from './attempts.ts';
import { childrenOf, type ChildView } from './job-children.ts';
import { maskPayload } from './secrets.ts';
import { NotFoundError, UnavailableError } from './errors.ts';
import type { EndedJob } from './final-states.ts';
import { publicState } from './producer.ts';
import { ownDelay } from './fair/hold.ts';
import { jobStateOf } from './fair/job-state.ts';
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
  /** The DLQ entry this job replays. */
  replayOf?: string;
  /** The job's DLQ entry, when it is in the DLQ. */
  dlqEntryId?: string;
  /** Why it ended in the DLQ (`invalid_payload`, `retries_exhausted`, ...) or `cancelled`. */
  reason?: string;
  attemptsMade: number;
  attempts: AttemptRecord[];
  progress: unknown;
  result?: unknown;
  error?: string;
  /** `startedAt`: when the first attempt started. */
  timestamps: { createdAt: number; startedAt?: number; finishedAt?: number };
  /** The flow job this one is a child of. */
  parentId?: string;
  /** A flow parent's children and their states. */
  children?: ChildView[];
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
    let children: ChildView[] | undefined;
    try {
      // The state is read before the job: a job seen as finished is then read
      // with its result, never the other way round.
      state = await jobStateOf(queue, this.redis, this.keys, queueName, id);
      job = await Job.fromId<JobEnvelope>(queue, id);
      if (!job) return await this.ended(queueName, id);
      [rawAttempts, children] = await Promise.all([
        this.redis.hget(this.keys.job(queueName, id), ATTEMPTS_FIELD),
        childrenOf(job, this.queues),
      ]);
    } catch (err) {
      if (err instanceof NotFoundError) throw err;
      throw new UnavailableError(`Redis cannot read the job: ${(err as Error).message}`, { cause: err });
    }

    const data = (job.data ?? {}) as Partial<JobEnvelope>;
    const attempts = parseAttempts(rawAttempts);
    return {
      id,
      type: job.name,
      queue: queueName,
      state: publicState(state),
      waitingForHandler: state === 'delayed' ? await this.waitsForHandler(job.name, queueName, id) : undefined,
      payload: maskPayload(data.payload, data.secretPaths),
      options: {
        priority: data.priority ?? 'normal',
        tenant: data.tenant,
        idempotencyKey: data.idempotencyKey,
        retries: Math.max(0, (job.opts.attempts ?? 1) - 1),
        timeoutMs: data.timeoutMs ?? 0,
        delayMs: ownDelay(job.opts.delay) || undefined,
      },
      submittedBy: data.submittedBy,
      replayOf: data.replayOf,
      attemptsMade: job.attemptsMade,
      attempts,
      progress: job.progress,
      result: job.returnvalue ?? undefined,
      error: job.failedReason || undefined,
      timestamps: {
        createdAt: job.timestamp,
        // The first attempt's start; BullMQ's processedOn moves on with every attempt.
        startedAt: attempts[0]?.startedAt ?? (job.processedOn || undefined),
        finishedAt: job.finishedOn || undefined,
      },
      parentId: job.parent?.id,
      children,
    };
  }

  /** Whether a delayed job is parked because no plugin provides its type (see parked.ts). */
  private async waitsForHandler(type: string, queue: string, id: string): Promise<boolean> {
    const marked = await this.redis.sismember(this.keys.parked(type), `${queue}|${id}`).catch(() => 0);
    return marked === 1;
  }

  /** A job no longer in BullMQ: in the DLQ, cancelled, or not found. */
  private async ended(queue: string, id: string): Promise<JobView> {
    const entryId = await this.redis.hget(this.keys.dlqByJob(queue), id);
    const [dlqRaw, cancelledRaw] = await Promise.all([
      entryId ? this.redis.hget(this.keys.dlqEntries(queue), entryId) : null,
      this.redis.hget(this.keys.cancelledEntries(queue), id),
    ]);
    const raw = dlqRaw ?? cancelledRaw;
    if (!raw) throw new NotFoundError(`job ${id} not found`);
    return endedView(JSON.parse(raw) as EndedJob, dlqRaw ? 'dlq' : 'cancelled');
  }
}

function endedView(entry: EndedJob, state: 'dlq' | 'cancelled'): JobView {
  return {
    id: entry.jobId,
    type: entry.type,
    queue: entry.queue,
    state,
    payload: maskPayload(entry.payload, entry.secretPaths),
    options: {
      priority: entry.priority ?? 'normal',
      tenant: entry.tenant,
      idempotencyKey: entry.idempotencyKey,
      retries: entry.retries,
      timeoutMs: entry.timeoutMs ?? 0,
    },
    submittedBy: entry.submittedBy,
    replayOf: entry.replayOf,
    dlqEntryId: state === 'dlq' ? entry.id : undefined,
    reason: entry.reason,
    attemptsMade: entry.attempts.filter((a) => a.outcome !== 'deferred').length,
    attempts: entry.attempts,
    progress: 0,
    error: entry.error,
    timestamps: { createdAt: entry.createdAt, startedAt: entry.attempts[0]?.startedAt, finishedAt: entry.endedAt },
  };
}
