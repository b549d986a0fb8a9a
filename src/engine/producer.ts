import type { JobsOptions } from 'bullmq';
import type { Config } from '../config/index.ts';
import {
  backoffPolicySchema,
  bullPriority,
  defaultBackoff,
  idempotentJobId,
  jobSubmissionSchema,
  newJobId,
  newSubmissionId,
  type JobEnvelope,
  type JobState,
  type JobSubmission,
  type RetentionOptions,
} from '../core/index.ts';
import type { Registry } from '../plugins/index.ts';
import type { Keys, RedisClient } from '../redis/index.ts';
import { mapPaths, SecretBox, secretPaths, type PayloadPath } from './secrets.ts';
import { fieldIssues, onePerField, UnavailableError, ValidationError, type FieldIssue } from './errors.ts';
import { noteRetention } from './finished-retention.ts';
import type { QueueSet } from './queues.ts';
import { heldDelay, ownDelay } from './fair/hold.ts';
import { jobStateOf } from './fair/job-state.ts';

/** Where a submitted job went. */
export interface Submitted {
  id: string;
  type: string;
  queue: string;
  state: JobState;
  /** True when an earlier job with the same idempotency key was returned instead. */
  duplicate: boolean;
}

/** A submission checked and turned into what BullMQ stores. */
export interface PreparedJob {
  type: string;
  queue: string;
  data: JobEnvelope;
  opts: JobsOptions & { jobId: string };
}

/** Options only TaskMaster's own producers (schedules, flows) set on a job. */
export interface InternalOptions {
  /** A replay's job id, derived from its DLQ entry. */
  jobId?: string;
  /** The DLQ entry a replay comes from. */
  replayOf?: string;
  /** Overrides of the configured retention for this job. */
  retention?: RetentionOptions;
}

/** The outcome of one job of a bulk submission. */
export type BulkItem = ({ ok: true } & Submitted) | { ok: false; index: number; issues: FieldIssue[] };

const STORE_TIMEOUT_MS = 5000;

/**
 * Stores jobs. A job is validated whole (options, type, payload against its
 * schema) before anything is written, and a call that returns has stored it;
 * one that throws `UnavailableError` may not have.
 */
export class Producer {
  private readonly secrets?: SecretBox;
  /** Job type to the queue configuration routes it to (`queues.<name>.types`). */
  private readonly routes = new Map<string, string>();

  constructor(
    private readonly config: Config,
    private readonly registry: Registry,
    private readonly queues: QueueSet,
    private readonly redis: RedisClient,
    private readonly keys: Keys,
  ) {
    if (config.secrets.key) this.secrets = new SecretBox(config.secrets.key);
    for (const [name, queue] of Object.entries(config.queues)) for (const type of queue.types) this.routes.set(type, name);
  }

  /**
   * Stores one job. `internal` carries what only TaskMaster itself sets, such
   * as a schedule's retention for the jobs it produces.
   */
  async submit(input: unknown, submittedBy?: string, internal: InternalOptions = {}): Promise<Submitted> {
    const prepared = this.prepare(input, submittedBy, '', internal);
    if ('issues' in prepared) throw new ValidationError('invalid job', prepared.issues);

    const ended = await this.endedEarlier([prepared]);
    const queue = this.queues.get(prepared.queue);
    if (!ended.has(prepared.opts.jobId)) await storing(queue.add(prepared.type, prepared.data, prepared.opts));
    const [submitted] = await this.confirm([prepared], ended);
    if (internal.retention && !submitted.duplicate) {
      await storing(noteRetention(this.redis, queue.toKey(submitted.id), internal.retention));
    }
    return submitted;
  }

  /**
   * Stores many jobs: every one is validated before any is stored. Jobs of one
   * queue are added in one transaction.
   */
  async submitBulk(inputs: unknown[], submittedBy?: string): Promise<Submitted[]> {
    // 1. Validate all; one bad job rejects the whole batch.
    const prepared: PreparedJob[] = [];
    const issues: FieldIssue[] = [];
    inputs.forEach((input, index) => {
      const one = this.prepare(input, submittedBy, `jobs.${index}`);
      if ('issues' in one) issues.push(...one.issues);
      else prepared.push(one);
    });
    if (issues.length) throw new ValidationError('invalid jobs in bulk submission', issues);

    // 2. Store, one transaction per queue; a key whose job already ended stores nothing.
    const ended = await this.endedEarlier(prepared);
    const byQueue = new Map<string, PreparedJob[]>();
    for (const p of prepared) {
      if (!ended.has(p.opts.jobId)) byQueue.set(p.queue, [...(byQueue.get(p.queue) ?? []), p]);
    }
    for (const [name, jobs] of byQueue) {
      const queue = this.queues.get(name);
      await storing(queue.addBulk(jobs.map((j) => ({ name: j.type, data: j.data, opts: j.opts }))));
    }

    // 3. Tell stored jobs from duplicates.
    return this.confirm(prepared, ended);
  }

  /**
   * Opens payload fields stored encrypted, for a DLQ replay: the replay
   * submits the clear payload again, so it is checked against the schema and
   * sealed anew like any submission. The clear values live only in memory.
   */
  openSecrets(payload: unknown, paths: PayloadPath[]): unknown {
    const field = ['payload', ...paths[0]].join('.');
    if (!this.secrets) throw new ValidationError('the entry has secret fields', [{ field, message: 'is secret, and this server has no secrets.key to open it with' }]);
    try {
      return mapPaths(payload, paths, (v) => this.secrets!.open(v));
    } catch (err) {
      throw new ValidationError('the entry has secret fields that cannot be opened', [{ field, message: (err as Error).message }]);
    }
  }

  /** Checks a submission and returns what BullMQ would store, storing nothing; throws `ValidationError`. */
  prepareJob(input: unknown, submittedBy?: string): PreparedJob {
    const prepared = this.prepare(input, submittedBy, '');
    if ('issues' in prepared) throw new ValidationError('invalid job', prepared.issues);
    return prepared;
  }

  /** Checks a submission as `submit` would, storing nothing; the issues are named under `prefix`. */
  validate(input: unknown, prefix = ''): FieldIssue[] {
    const prepared = this.prepare(input, undefined, prefix);
    return 'issues' in prepared ? prepared.issues : [];
  }

  /** The payload's own problems, reported beside bad options so one answer names every field. */
  private payloadIssues(input: unknown, prefix: string): FieldIssue[] {
    const { type, payload } = (typeof input === 'object' && input !== null ? input : {}) as { type?: unknown; payload?: unknown };
    const entry = typeof type === 'string' ? this.registry.get(type) : undefined;
    const result = entry?.definition.schema.safeParse(payload);
    if (!result || result.success) return [];
    return fieldIssues([prefix, 'payload'].filter(Boolean).join('.'), result.error.issues);
  }

  private prepare(
    input: unknown,
    submittedBy: string | undefined,
    prefix: string,
    internal: InternalOptions = {},
  ): PreparedJob | { issues: FieldIssue[] } {
    // 1. The envelope: known fields, right types.
    const parsed = jobSubmissionSchema.safeParse(input);
    if (!parsed.success) return { issues: onePerField([...fieldIssues(prefix, parsed.error.issues), ...this.payloadIssues(input, prefix)]) };
    const job: JobSubmission = parsed.data;
    const at = (field: string) => [prefix, field].filter(Boolean).join('.');

    // 2. The job type must be loaded.
    const entry = this.registry.get(job.type);
    if (!entry) return { issues: [{ field: at('type'), message: `unknown job type ${job.type}` }] };

    // 3. The payload must match the type's schema.
    const payload = entry.definition.schema.safeParse(job.payload);
    if (!payload.success) return { issues: fieldIssues(at('payload'), payload.error.issues) };

    // 4. Secret fields are encrypted before anything is stored.
    const paths = secretPaths(entry.definition.schema, payload.data);
    if (paths.length && !this.secrets) {
      const field = at(['payload', ...paths[0]].join('.'));
      return { issues: [{ field, message: 'is secret, and this server has no secrets.key to encrypt it with' }] };
    }
    const stored = paths.length ? mapPaths(payload.data, paths, (v) => this.secrets!.seal(v)) : payload.data;

    // 5. Options: the job's own, then the type's defaults, then the service's.
    const typeDefaults = entry.definition.defaults ?? {};
    const defaults = this.config.defaults;
    const queue = job.queue ?? this.routes.get(job.type) ?? typeDefaults.queue ?? 'default';
    if (!this.queues.has(queue)) return { issues: [{ field: at('queue'), message: `unknown queue ${queue}` }] };

    const priority = job.priority ?? typeDefaults.priority ?? defaults.priority;
    const retries = job.retries ?? typeDefaults.retries ?? defaults.retries;
    const timeoutMs = job.timeoutMs ?? typeDefaults.timeoutMs ?? defaults.timeoutMs;
    const backoff = job.backoff ?? typeDefaults.backoff ?? defaults.backoff ?? defaultBackoff(defaults.backoffMs);
    const jobId =
      internal.jobId ?? (job.idempotencyKey ? idempotentJobId(queue, job.tenant, job.idempotencyKey) : newJobId(queue));
    const retention = { ...this.config.retention, ...internal.retention };

    return {
      type: job.type,
      queue,
      // Priority and tenant lead the stored JSON: the fair dispatcher reads them from its start.
      data: {
        priority,
        tenant: job.tenant,
        payload: stored,
        secretPaths: paths.length ? paths : undefined,
        idempotencyKey: job.idempotencyKey,
        timeoutMs,
        backoff: backoffPolicySchema.parse(backoff),
        ...(internal.replayOf ? { replayOf: internal.replayOf } : {}),
        submissionId: newSubmissionId(),
        submittedBy,
      },
      opts: {
        jobId,
        priority: bullPriority(priority),
        // A fair queue's job waits held in BullMQ's delayed set until the dispatcher hands it over.
        delay: this.config.queues[queue]?.fair ? heldDelay(job.delayMs) : job.delayMs,
        attempts: retries + 1,
        backoff: { type: 'taskmaster', delay: defaults.backoffMs },
        // No age here: BullMQ would apply each job's age to the whole completed set,
        // cutting longer retentions. The retention sweeps remove jobs by their own age.
        removeOnComplete: { count: retention.completedCount },
        // A job failed for good is moved to the DLQ by the engine, never dropped by BullMQ.
        removeOnFail: false,
      },
    };
  }

  /**
   * Jobs with an idempotency key whose earlier job already ended in the DLQ
   * or cancelled: BullMQ no longer holds them, so it would store the key's
   * job again and run it twice. Such a submission stores nothing and gets the
   * earlier job back, as long as its DLQ or cancelled entry is kept.
   */
  private async endedEarlier(jobs: PreparedJob[]): Promise<Map<string, JobState>> {
    const ended = new Map<string, JobState>();
    const keyed = jobs.filter((j) => j.data.idempotencyKey);
    // One pipeline per queue: every key below shares the queue's hash tag.
    for (const queue of new Set(keyed.map((j) => j.queue))) {
      const ids = keyed.filter((j) => j.queue === queue).map((j) => j.opts.jobId);
      const pipeline = this.redis.pipeline();
      for (const id of ids) pipeline.hget(this.keys.dlqByJob(queue), id).hexists(this.keys.cancelledEntries(queue), id);
      const replies = (await storing(pipeline.exec())) ?? [];
      const inDlq: [string, string][] = [];
      ids.forEach((id, i) => {
        const entryId = replies[2 * i]?.[1];
        if (replies[2 * i + 1]?.[1] === 1) ended.set(id, 'cancelled');
        else if (typeof entryId === 'string') inDlq.push([id, entryId]);
      });
      if (!inDlq.length) continue;
      // The by-job index may outlive a purged entry: only a kept entry counts.
      const kept = this.redis.pipeline();
      for (const [, entryId] of inDlq) kept.hexists(this.keys.dlqEntries(queue), entryId);
      const found = (await storing(kept.exec())) ?? [];
      inDlq.forEach(([id], i) => {
        if (found[i]?.[1] === 1) ended.set(id, 'dlq');
      });
    }
    return ended;
  }

  /**
   * BullMQ leaves an existing job alone when an id is reused, without saying
   * so. Jobs with an idempotency key are read back: the stored submission id
   * tells whether this call stored the job or found an earlier one.
   */
  private async confirm(jobs: PreparedJob[], ended: Map<string, JobState>): Promise<Submitted[]> {
    const keyed = jobs.filter((j) => (j.data.idempotencyKey || j.data.replayOf) && !ended.has(j.opts.jobId));
    const stored = new Map<string, string | null>();
    // One pipeline per queue: on a cluster a pipeline may only touch one slot.
    for (const queue of new Set(keyed.map((j) => j.queue))) {
      const ofQueue = keyed.filter((j) => j.queue === queue);
      const pipeline = this.redis.pipeline();
      for (const j of ofQueue) pipeline.hget(this.keys.job(queue, j.opts.jobId), 'data');
      const replies = await storing(pipeline.exec());
      ofQueue.forEach((j, i) => stored.set(j.opts.jobId, (replies?.[i]?.[1] as string | null) ?? null));
    }

    return Promise.all(
      jobs.map(async (j) => {
        const endedAs = ended.get(j.opts.jobId);
        if (endedAs) return { id: j.opts.jobId, type: j.type, queue: j.queue, state: endedAs, duplicate: true };
        const raw = stored.get(j.opts.jobId);
        const duplicate = typeof raw === 'string' && !raw.includes(`"submissionId":"${j.data.submissionId}"`);
        const state = duplicate
          ? await storing(jobStateOf(this.queues.get(j.queue), this.redis, this.keys, j.queue, j.opts.jobId))
          : ownDelay(j.opts.delay)
            ? 'delayed'
            : 'waiting';
        return { id: j.opts.jobId, type: j.type, queue: j.queue, state: publicState(state), duplicate };
      }),
    );
  }
}

/** BullMQ's state names folded into TaskMaster's. */
export function publicState(state: string): JobState {
  if (state === 'prioritized' || state === 'waiting-children' || state === 'wait') return 'waiting';
  if (['waiting', 'delayed', 'active', 'completed', 'failed', 'cancelled', 'dlq'].includes(state)) return state as JobState;
  return 'unknown';
}

/** Runs a Redis write, turning any failure or a stall into `UnavailableError`. */
async function storing<T>(operation: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const stall = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from Redis in ${STORE_TIMEOUT_MS} ms`)), STORE_TIMEOUT_MS);
  });
  try {
    return await Promise.race([operation, stall]);
  } catch (err) {
    throw new UnavailableError(`Redis cannot take the job: ${(err as Error).message}`, { cause: err });
  } finally {
    clearTimeout(timer);
  }
}
