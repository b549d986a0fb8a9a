import { DelayedError, WaitingError, type Job } from 'bullmq';
import {
  breakerRefusal,
  CancelledError,
  errorName,
  isPermanentError,
  permanentReason,
  PermanentError,
  WorkerLostError,
  type JobEnvelope,
} from '../core/index.ts';
import type { JobTypeEntry, Registry } from '../plugins/index.ts';
import type { Keys, RedisClient } from '../redis/index.ts';
import { AttemptBreakers } from './attempt-breakers.ts';
import { appendAttempt, beginAttempt, type RunningAttempt } from './attempts.ts';
import type { Breakers } from './breakers.ts';
import type { SecretBox } from './secrets.ts';
import type { JobEvents } from './events.ts';
import { serviceContext, type JobServices } from './job-services.ts';
import { runFallback, type FallbackOutcome, type SubmitJob } from './fallbacks.ts';
import { CANCEL_FIELD } from './final-states.ts';
import type { Logger } from './logger.ts';
import type { ParkedJobs } from './parked.ts';
import type { PluginServices } from './services/plugin-services.ts';
import type { OutboundGuard } from './outbound-guard.ts';
import { invokeHandler, runBounded, type RunOptions } from './run-handler.ts';
import {
  about,
  defer,
  deferredFor,
  downstreamOf,
  lazyChild,
  lostRecord,
  maxAttempts,
  parsePayload,
  pluginOf,
  readySince,
  record,
  unrecoverable,
} from './job-steps.ts';

export interface ProcessorDeps {
  queue: string;
  registry: Registry;
  /** Fails fast while Redis is away (reads and marks before a handler runs). */
  redis: RedisClient;
  /**
   * Waits for Redis while it is away, like BullMQ's own connection: a
   * finished attempt is recorded over it, so an outage delays the record
   * instead of losing it (see `record`).
   */
  recordRedis: RedisClient;
  keys: Keys;
  workerId: string;
  settings: Record<string, unknown>;
  /** Checks every outbound request a handler makes through `ctx.http`. */
  outbound: OutboundGuard;
  log: Logger;
  /** Fires when this worker shuts down past its drain limit. */
  shutdown: AbortSignal;
  events: JobEvents;
  /** Files, notifications, checkpoints and follow-up jobs for handlers. */
  services: JobServices;
  breakers: Breakers;
  submit: SubmitJob;
  /** Databases, key-value store, cache and flows for handlers. */
  pluginServices: PluginServices;
  /** Where jobs of a type no plugin provides wait. */
  parked: ParkedJobs;
  /** How long a parked job waits before it is looked at again. */
  missingHandlerRecheckMs: number;
  /** The SDK module an isolated handler's thread resolves `taskmaster/sdk` to. */
  sdkEntry: string;
  /** Opens payload fields stored encrypted; absent when no `secrets.key` is configured. */
  secrets?: SecretBox;
}

/**
 * Builds the BullMQ processor for one queue. Each run:
 * 1. finds the job type's handler (a job of an unknown type waits, unharmed);
 * 2. checks the stored payload against the schema (a bad one fails for good);
 * 3. asks the downstream's breaker (open: the job is deferred, no attempt);
 *    without one, each `ctx.http` request asks its host's breaker, and a
 *    refusal defers the job the same way, using no retry;
 * 4. marks the attempt running; a mark left by a worker that died turns
 *    into one failed attempt instead, and a cancel request ends the job;
 * 5. runs the handler with a signal that fires on timeout, cancel or shutdown;
 * 6. records the attempt with the plugin version on the job, then lets BullMQ
 *    complete it, retry it with backoff, or fail it (the settler then moves it
 *    to the DLQ), after the fallback when one is declared.
 */
export function createProcessor(deps: ProcessorDeps) {
  return async function processJob(job: Job<JobEnvelope>, token?: string, cancel?: AbortSignal): Promise<unknown> {
    // 1. The handler: a lease on the plugin version serving the type now.
    const lease = deps.registry.acquire(job.name);
    if (!lease) {
      deps.log.warn({ jobId: job.id, type: job.name }, 'no handler for job type; job waits for one');
      await deps.parked.park(job, token, deps.queue, deps.missingHandlerRecheckMs, () => Boolean(deps.registry.get(job.name)));
      throw new DelayedError();
    }
    let completed = false;
    try {
      const result = await runLeased(deps, lease.entry, lease.signal, job, token, cancel);
      completed = true;
      return result;
    } finally {
      lease.release(completed);
    }
  };
}

/** Steps 2 to 6 for a job whose handler version is leased. */
async function runLeased(
  deps: ProcessorDeps,
  entry: JobTypeEntry,
  swap: AbortSignal,
  job: Job<JobEnvelope>,
  token: string | undefined,
  cancel: AbortSignal | undefined,
): Promise<unknown> {
  {

    const attempt = job.attemptsMade + 1;
    const log = lazyChild(deps.log, { jobId: job.id, type: job.name, attempt });
    const jobKey = deps.keys.job(deps.queue, job.id!);
    const run: RunOptions = {
      job,
      attempt,
      log,
      timeoutMs: Number(job.data?.timeoutMs) > 0 ? Number(job.data.timeoutMs) : undefined,
      signals: [cancel, deps.shutdown, swap],
      settings: deps.settings,
      outbound: deps.outbound,
      services: serviceContext(deps.services, { id: job.id!, queue: deps.queue, tenant: job.data?.tenant }),
      sdkEntry: deps.sdkEntry,
      pluginServices: deps.pluginServices,
    };

    // 2. The payload, as stored. A bad one is kept as the attempt's error.
    let payload: unknown;
    let invalid: PermanentError | undefined;
    try {
      payload = parsePayload(job, entry, deps.secrets);
    } catch (err) {
      invalid = err as PermanentError;
    }

    // 3. The breaker.
    const downstream = invalid ? undefined : downstreamOf(entry, payload, log);
    let probe = false;
    if (downstream) {
      const decision = await deps.breakers.acquire(downstream);
      if (!decision.allowed) {
        const openFor = await deferredFor(deps.redis, jobKey);
        const limit = entry.definition.fallback?.afterOpenMs;
        if (limit === undefined || openFor < limit) {
          // Back in time for the fallback's limit, if that comes before the next probe.
          const untilLimit = limit === undefined ? Infinity : Math.max(1, limit - openFor);
          const delayMs = Math.min(deps.breakers.deferDelayMs(decision.retryInMs), untilLimit);
          deps.events.emit('job.deferred', { queue: deps.queue, jobId: job.id!, type: job.name, downstream, delayMs });
          return defer(job, token, delayMs);
        }
        return fallBackWhileOpen(deps, entry, job, payload, run, downstream, openFor);
      }
      probe = decision.probe;
    }
    // A job-level breaker stands for the whole attempt; otherwise each request has its host's.
    if (!downstream) run.breakers = new AttemptBreakers(deps.breakers, log);

    // 4. Mark the attempt running, unless an earlier one was lost or the job was cancelled.
    const startedAt = Date.now();
    const running: RunningAttempt = { attempt, startedAt, worker: deps.workerId, ...pluginOf(entry) };
    const { lost: previous, cancelled } = await beginAttempt(deps.redis, jobKey, running, CANCEL_FIELD);
    if (previous) {
      const lost = new WorkerLostError(previous.worker);
      await appendAttempt(deps.redis, jobKey, lostRecord(previous, lost)).catch((err) => log.error({ err }, 'could not record attempt'));
      log.warn({ lostWorker: previous.worker }, 'previous attempt lost with its worker; counted as failed');
      deps.events.emit('attempt.ended', { ...about(deps, job, attempt), durationMs: 0, outcome: 'failed', errorName: lost.name, final: attempt >= maxAttempts(job) });
      throw lost;
    }
    if (cancelled) {
      await record(deps, job, entry, { attempt, startedAt, outcome: 'cancelled' });
      throw unrecoverable(new CancelledError());
    }

    deps.events.emit('attempt.started', { ...about(deps, job, attempt), waitMs: Math.max(0, startedAt - readySince(job)), tenant: job.data?.tenant });

    let result: unknown;
    try {
      // 5. The handler, bounded by its timeout.
      if (invalid) throw invalid;
      result = await runBounded(entry, run, (ctx) => invokeHandler(entry, payload, ctx, run));
    } catch (err) {
      return failed(deps, { entry, job, token, payload, run, startedAt, downstream, probe, cancelled: Boolean(cancel?.aborted) }, err as Error);
    }

    // 6. Recorded before BullMQ completes the job, so retention removes both together. The
    // handler has succeeded: a record that cannot be written is not the handler's failure.
    await record(deps, job, entry, { attempt, startedAt, outcome: 'completed' });
    if (downstream) await deps.breakers.record(downstream, true, probe).catch((err) => log.error({ err }, 'could not update breaker'));
    const durationMs = Date.now() - startedAt;
    log.debug({ durationMs }, 'job attempt completed');
    deps.events.emit('attempt.ended', { ...about(deps, job, attempt), durationMs, outcome: 'completed', final: true });
    return result;
  }
}

interface FailedRun {
  entry: JobTypeEntry;
  job: Job<JobEnvelope>;
  token?: string;
  payload: unknown;
  run: RunOptions;
  startedAt: number;
  downstream?: string;
  probe: boolean;
  cancelled: boolean;
}

/**
 * An attempt threw. In order: a cancel ends the job as cancelled; a failed
 * breaker probe defers the job without using a retry; a last failure runs
 * the fallback when there is one; otherwise BullMQ retries or fails it.
 */
async function failed(deps: ProcessorDeps, f: FailedRun, err: Error): Promise<unknown> {
  const { entry, job, run } = f;
  const attempt = run.attempt;
  const log = run.log;
  const durationMs = () => Date.now() - f.startedAt;

  if (f.cancelled) {
    await record(deps, job, entry, { attempt, startedAt: f.startedAt, outcome: 'cancelled', error: new CancelledError() }).catch((e) => log.error({ err: e }, 'could not record attempt'));
    log.info({ durationMs: durationMs() }, 'job cancelled while running');
    deps.events.emit('attempt.ended', { ...about(deps, job, attempt), durationMs: durationMs(), outcome: 'cancelled', errorName: 'CancelledError', final: true });
    throw unrecoverable(new CancelledError());
  }

  if (deps.shutdown.aborted && err === deps.shutdown.reason) {
    await requeue(deps, job, f.token, entry, { attempt, startedAt: f.startedAt, log });
    deps.events.emit('attempt.ended', { ...about(deps, job, attempt), durationMs: durationMs(), outcome: 'interrupted', final: false });
    throw new WaitingError();
  }

  if (errorName(err) === 'PluginSwapError') {
    await record(deps, job, entry, { attempt, startedAt: f.startedAt, outcome: 'failed', error: err }).catch((e) => log.error({ err: e }, 'could not record attempt'));
    deps.events.emit('attempt.ended', { ...about(deps, job, attempt), durationMs: durationMs(), outcome: 'failed', errorName: errorName(err), final: false });
    return rerunOnNewVersion(job, f.token, log, err);
  }

  const permanent = isPermanentError(err);
  const refusal = breakerRefusal(err);
  const failedProbe = run.breakers?.failedProbe;
  if (refusal || (failedProbe && !permanent && !deps.shutdown.aborted)) {
    return deferBehindHost(deps, f, err, refusal?.downstream ?? failedProbe!, refusal?.retryAfterMs ?? 0);
  }

  // The downstream answered a permanent error: it is up, so that counts for the breaker.
  const downstreamFailed = !permanent && !deps.shutdown.aborted;
  if (f.downstream) await deps.breakers.record(f.downstream, !downstreamFailed, f.probe).catch((e) => log.error({ err: e }, 'could not update breaker'));

  if (f.probe && downstreamFailed) {
    await record(deps, job, entry, { attempt, startedAt: f.startedAt, outcome: 'deferred', error: err }).catch((e) => log.error({ err: e }, 'could not record attempt'));
    log.info({ downstream: f.downstream, err: { name: err?.name, message: err?.message } }, 'breaker probe failed; job deferred');
    const delayMs = deps.breakers.deferDelayMs(0);
    deps.events.emit('job.deferred', { queue: deps.queue, jobId: job.id!, type: job.name, downstream: f.downstream!, delayMs });
    return defer(job, f.token, delayMs);
  }

  const final = permanent || attempt >= maxAttempts(job);
  if (final && entry.definition.fallback && permanentReason(err) !== 'invalid_payload') {
    const cause = { reason: permanentReason(err) ?? 'retries_exhausted', error: { name: errorName(err) ?? 'Error', message: String(err?.message ?? err) } };
    const outcome = await runFallback(entry, job, f.payload, cause, run, deps.submit).catch((fallbackErr: Error) => fallbackErr);
    if (!(outcome instanceof Error)) {
      const fallback = { kind: outcome.kind, type: outcome.type, jobId: outcome.jobId, reason: cause.reason };
      await record(deps, job, entry, { attempt, startedAt: f.startedAt, outcome: 'failed', error: err, fallback });
      deps.events.emit('attempt.ended', { ...about(deps, job, attempt), durationMs: durationMs(), outcome: 'failed', errorName: errorName(err), final: true });
      deps.events.emit('job.fallback', { queue: deps.queue, jobId: job.id!, type: job.name, kind: outcome.kind, reason: cause.reason, fallbackJobId: outcome.jobId });
      log.warn({ fallback: outcome.kind, fallbackType: outcome.type, reason: cause.reason }, 'job failed; fallback ran');
      return fallbackResult(outcome);
    }
    log.error({ err: { name: outcome.name, message: outcome.message } }, 'fallback failed');
    err = new PermanentError(`fallback failed: ${outcome.message}`, { reason: 'fallback_failed', cause: err });
  }

  await record(deps, job, entry, { attempt, startedAt: f.startedAt, outcome: 'failed', error: err }).catch((e) => log.error({ err: e }, 'could not record attempt'));
  log.warn({ durationMs: durationMs(), final, err: { name: err?.name, message: err?.message } }, 'job attempt failed');
  deps.events.emit('attempt.ended', { ...about(deps, job, attempt), durationMs: durationMs(), outcome: 'failed', errorName: errorName(err), final });

  // A permanent error reaches BullMQ under the name it knows for "do not retry".
  if (isPermanentError(err)) throw unrecoverable(err);
  throw err;
}

/**
 * A `ctx.http` request found its host's breaker open, or was a probe that
 * failed: the job goes back to the delayed set without using a retry (the
 * attempt is recorded as `deferred`), or, once the breaker has kept it back
 * past its fallback's `afterOpenMs`, the fallback runs.
 */
async function deferBehindHost(deps: ProcessorDeps, f: FailedRun, err: Error, host: string, retryInMs: number): Promise<unknown> {
  const { entry, job, run } = f;
  const openFor = await deferredFor(deps.redis, deps.keys.job(deps.queue, job.id!));
  const limit = entry.definition.fallback?.afterOpenMs;
  if (limit !== undefined && openFor >= limit) return fallBackWhileOpen(deps, entry, job, f.payload, run, host, openFor);

  await record(deps, job, entry, { attempt: run.attempt, startedAt: f.startedAt, outcome: 'deferred', error: err }).catch((e) => run.log.error({ err: e }, 'could not record attempt'));
  const untilLimit = limit === undefined ? Infinity : Math.max(1, limit - openFor);
  const delayMs = Math.min(deps.breakers.deferDelayMs(retryInMs), untilLimit);
  run.log.info({ downstream: host, delayMs, err: { name: err?.name, message: err?.message } }, 'breaker open for a request; job deferred');
  deps.events.emit('job.deferred', { queue: deps.queue, jobId: job.id!, type: job.name, downstream: host, delayMs });
  return defer(job, f.token, delayMs);
}

/**
 * The breaker has kept the job back for longer than its fallback's
 * `afterOpenMs`: the fallback runs instead of the job, and the job completes.
 */
async function fallBackWhileOpen(
  deps: ProcessorDeps,
  entry: JobTypeEntry,
  job: Job<JobEnvelope>,
  payload: unknown,
  run: RunOptions,
  downstream: string,
  openFor: number,
): Promise<unknown> {
  const startedAt = Date.now();
  const cause = { reason: 'breaker_open' };
  const error = new Error(`breaker for ${downstream} kept the job back for ${openFor} ms`);
  error.name = 'BreakerOpenError';
  let outcome: FallbackOutcome;
  try {
    outcome = await runFallback(entry, job, payload, cause, run, deps.submit);
  } catch (err) {
    const failure = new PermanentError(`fallback failed: ${(err as Error).message}`, { reason: 'fallback_failed', cause: err });
    await record(deps, job, entry, { attempt: run.attempt, startedAt, outcome: 'failed', error: failure });
    throw unrecoverable(failure);
  }
  const fallback = { kind: outcome.kind, type: outcome.type, jobId: outcome.jobId, reason: cause.reason };
  await record(deps, job, entry, { attempt: run.attempt, startedAt, outcome: 'failed', error, fallback });
  deps.events.emit('job.fallback', { queue: deps.queue, jobId: job.id!, type: job.name, kind: outcome.kind, reason: cause.reason, fallbackJobId: outcome.jobId });
  run.log.warn({ downstream, openFor, fallback: outcome.kind }, 'breaker stayed open; fallback ran');
  return fallbackResult(outcome);
}

/**
 * A job that outlived its plugin version's drain limit goes straight back to
 * the queue, where it runs on the new version; the aborted run is recorded
 * but uses up no retry.
 */
async function rerunOnNewVersion(job: Job, token: string | undefined, log: Logger, error: Error): Promise<never> {
  log.warn({ err: { name: error.name, message: error.message } }, 'job aborted by a plugin swap; it runs again on the new version');
  await job.moveToDelayed(Date.now(), token);
  throw new DelayedError();
}

/**
 * Puts a job whose worker is shutting down back to wait, as if it had never
 * been taken: BullMQ's attempt count is untouched, so the shutdown costs the
 * job no retry. The attempt is still recorded, as `interrupted`. If Redis
 * cannot be reached the job stays active until its lock expires and the
 * stalled-job check of another worker returns it to wait.
 */
async function requeue(
  deps: ProcessorDeps,
  job: Job<JobEnvelope>,
  token: string | undefined,
  entry: JobTypeEntry,
  run: { attempt: number; startedAt: number; log: Logger },
): Promise<void> {
  await record(deps, job, entry, { attempt: run.attempt, startedAt: run.startedAt, outcome: 'interrupted' }).catch((err) =>
    run.log.error({ err }, 'could not record attempt'),
  );
  await job.moveToWait(token);
  run.log.info({ durationMs: Date.now() - run.startedAt }, 'job interrupted by shutdown; back to wait');
}

function fallbackResult(outcome: FallbackOutcome): unknown {
  return { fallback: outcome };
}
