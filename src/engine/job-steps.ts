import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import { errorName, permanentReason, PermanentError, type AttemptRecord, type JobEnvelope, type WorkerLostError } from '../core/index.ts';
import type { JobTypeEntry } from '../plugins/index.ts';
import type { RedisClient } from '../redis/index.ts';
import { appendAttempt, type RunningAttempt } from './attempts.ts';
import type { Logger } from './logger.ts';
import { mapPaths, type SecretBox } from './secrets.ts';
import { ownDelay } from './fair/hold.ts';
import type { ProcessorDeps } from './processor.ts';

/*
 * The small steps the processor takes around a handler run: reading the
 * stored payload, deferring behind a breaker, describing attempts. Kept apart
 * so the processor reads as the life cycle of one attempt.
 */

/** The hash field holding when the breaker first deferred the job (ms). */
export const DEFERRED_SINCE_FIELD = 'tm_deferred_since';

/**
 * A child logger made on first use: most attempts log nothing, and a pino
 * child per job costs more than the no-op job itself.
 */
export function lazyChild(parent: Logger, bindings: Record<string, unknown>): Logger {
  let child: Logger | undefined;
  const get = () => (child ??= parent.child(bindings));
  return new Proxy({} as Logger, {
    get: (_target, prop) => {
      const value = Reflect.get(get(), prop);
      return typeof value === 'function' ? value.bind(get()) : value;
    },
  });
}

/** Puts the job back in the delayed set without counting an attempt. */
export async function defer(job: Job, token: string | undefined, delayMs: number): Promise<never> {
  await job.moveToDelayed(Date.now() + delayMs, token);
  throw new DelayedError();
}

/** How long the breaker has been deferring this job (0 the first time, which it notes). */
export async function deferredFor(redis: RedisClient, jobKey: string): Promise<number> {
  const now = Date.now();
  const [[, set], [, since]] = (await redis.multi().hsetnx(jobKey, DEFERRED_SINCE_FIELD, now).hget(jobKey, DEFERRED_SINCE_FIELD).exec()) as [unknown, unknown][];
  return set === 1 ? 0 : now - Number(since);
}

export function downstreamOf(entry: JobTypeEntry, payload: unknown, log: Logger): string | undefined {
  try {
    return entry.definition.downstream?.(payload) || undefined;
  } catch (err) {
    // A downstream function that throws must not fail the job: it runs without a breaker.
    log.error({ err }, 'downstream() threw; running without a breaker');
    return undefined;
  }
}

/** When the job became ready to run: its delay's end, else its creation. */
export function readySince(job: Job): number {
  return job.timestamp + ownDelay(job.opts.delay);
}

export function parsePayload(job: Job<JobEnvelope>, entry: JobTypeEntry, secrets: SecretBox | undefined): unknown {
  const data = job.data as Partial<JobEnvelope> | undefined;
  if (!data || typeof data !== 'object' || !('payload' in data)) {
    throw new PermanentError('stored job data is not a TaskMaster envelope with a payload', { reason: 'invalid_payload' });
  }

  // Secret fields are decrypted here, in the worker, and nowhere else.
  const paths = Array.isArray(data.secretPaths) ? data.secretPaths : [];
  if (paths.length && !secrets) {
    throw new PermanentError('the job has secret fields and this worker has no secrets.key', { reason: 'secret_unreadable' });
  }
  const payload = paths.length ? mapPaths(data.payload, paths, (v) => secrets!.open(v)) : data.payload;

  const parsed = entry.definition.schema.safeParse(payload);
  if (!parsed.success) {
    const where = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new PermanentError(`stored payload does not match the schema: ${where}`, { reason: 'invalid_payload' });
  }
  return parsed.data;
}

export function pluginOf(entry: JobTypeEntry) {
  return { plugin: entry.plugin.name, pluginVersion: entry.plugin.version, pluginHash: entry.plugin.hash };
}

export function lostRecord(previous: RunningAttempt, lost: WorkerLostError): AttemptRecord {
  return {
    attempt: previous.attempt,
    startedAt: previous.startedAt,
    endedAt: Date.now(),
    worker: previous.worker,
    plugin: previous.plugin,
    pluginVersion: previous.pluginVersion,
    pluginHash: previous.pluginHash,
    outcome: 'failed',
    error: { name: lost.name, message: lost.message },
  };
}

export function about(deps: ProcessorDeps, job: Job, attempt: number) {
  return { queue: deps.queue, jobId: job.id!, type: job.name, attempt };
}

export function maxAttempts(job: Job): number {
  return job.opts.attempts ?? 1;
}

/**
 * Appends a finished attempt to the job and clears its running mark. Over
 * `recordRedis`: while Redis is away (restarted, failing over) the write
 * waits and is sent once it is back, while BullMQ's and the lock keeper's
 * renewals keep the job's lock. Failing fast instead would leave the
 * running mark in place: BullMQ would retry a handler that had succeeded,
 * and the next attempt would take the mark for a dead worker's (a second
 * run, and an attempt counted as failed, with no worker lost). The script is
 * idempotent, so a resend after a lost reply records the attempt once.
 */
export async function record(
  deps: ProcessorDeps,
  job: Job,
  entry: JobTypeEntry,
  outcome: {
    attempt: number;
    startedAt: number;
    outcome: AttemptRecord['outcome'];
    error?: Error;
    fallback?: AttemptRecord['fallback'];
  },
): Promise<void> {
  const record: AttemptRecord = {
    attempt: outcome.attempt,
    startedAt: outcome.startedAt,
    endedAt: Date.now(),
    worker: deps.workerId,
    ...pluginOf(entry),
    outcome: outcome.outcome,
  };
  if (outcome.error) {
    record.error = {
      name: errorName(outcome.error) ?? 'Error',
      message: String(outcome.error?.message ?? outcome.error),
      stack: outcome.error?.stack,
      reason: permanentReason(outcome.error),
    };
  }
  if (outcome.fallback) record.fallback = outcome.fallback;
  await appendAttempt(deps.recordRedis, deps.keys.job(deps.queue, job.id!), record);
}

export function unrecoverable(err: Error): UnrecoverableError {
  const unrecoverable = new UnrecoverableError(`${err.name}: ${err.message}`);
  unrecoverable.stack = err.stack;
  return unrecoverable;
}
