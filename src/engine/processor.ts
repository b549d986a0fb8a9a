import { DelayedError, UnrecoverableError, WaitingError, type Job } from 'bullmq';
import {
  errorName,
  isPermanentError,
  PermanentError,
  TimeoutError,
  type AttemptRecord,
  type JobEnvelope,
} from '../core/index.ts';
import type { JobTypeEntry, Registry } from '../plugins/index.ts';
import type { Keys, RedisClient } from '../redis/index.ts';
import type { HandlerContext } from '../sdk/types.ts';
import { appendAttempt } from './attempts.ts';
import { createHttpClient } from './outbound.ts';
import { mapPaths, type SecretBox } from './secrets.ts';
import type { OutboundGuard } from './outbound-guard.ts';
import type { JobEvents } from './events.ts';
import { serviceContext, type JobServices } from './job-services.ts';
import { runIsolated } from './isolated-runner.ts';
import type { Logger } from './logger.ts';
import type { ParkedJobs } from './parked.ts';
import type { PluginServices } from './services/plugin-services.ts';

/** A handler that holds the event loop this long in one go is reported: it delays every other job. */
const BLOCKED_WARN_MS = 500;

export interface ProcessorDeps {
  queue: string;
  registry: Registry;
  redis: RedisClient;
  keys: Keys;
  workerId: string;
  settings: Record<string, unknown>;
  /** Checks every outbound request a handler makes through `ctx.http`. */
  outbound: OutboundGuard;
  /** Databases, key-value store, cache and flows for handlers. */
  pluginServices: PluginServices;
  log: Logger;
  /** Fires when this worker shuts down past its drain limit. */
  shutdown: AbortSignal;
  events: JobEvents;
  /** Files, notifications, checkpoints and follow-up jobs for handlers. */
  services: JobServices;
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
 * 3. runs the handler with a signal that fires on timeout, cancel or shutdown;
 * 4. records the attempt with the plugin version on the job, then lets BullMQ
 *    complete it, retry it with backoff, or fail it.
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
    const entry = lease.entry;
    let completed = false;

    const attempt = job.attemptsMade + 1;
    const startedAt = Date.now();
    const log = lazyChild(deps.log, { jobId: job.id, type: job.name, attempt });
    const about = { queue: deps.queue, jobId: job.id!, type: job.name, attempt };
    deps.events.emit('attempt.started', {
      ...about,
      waitMs: Math.max(0, startedAt - readySince(job)),
      tenant: job.data?.tenant,
    });

    try {
      // 2. The payload, as stored.
      const payload = parsePayload(job, entry, deps.secrets);

      // 3. The handler, bounded by its timeout.
      const timeoutMs = Number(job.data.timeoutMs) > 0 ? Number(job.data.timeoutMs) : undefined;
      const result = await runHandler(entry, payload, {
        job,
        attempt,
        log,
        timeoutMs,
        signals: [cancel, deps.shutdown, lease.signal],
        settings: deps.settings,
        outbound: deps.outbound,
        services: serviceContext(deps.services, { id: job.id!, queue: deps.queue, tenant: job.data?.tenant }),
        sdkEntry: deps.sdkEntry,
        pluginServices: deps.pluginServices,
      });
      completed = true;

      // 4. Recorded before BullMQ completes the job, so retention removes both together.
      await record(deps, job, entry, { attempt, startedAt, outcome: 'completed' });
      const durationMs = Date.now() - startedAt;
      log.debug({ durationMs }, 'job attempt completed');
      deps.events.emit('attempt.ended', { ...about, durationMs, outcome: 'completed', final: true });
      return result;
    } catch (err) {
      const error = err as Error;
      if (deps.shutdown.aborted && error === deps.shutdown.reason) {
        await requeue(deps, job, token, entry, { attempt, startedAt, log });
        deps.events.emit('attempt.ended', { ...about, durationMs: Date.now() - startedAt, outcome: 'interrupted', final: false });
        throw new WaitingError();
      }
      await record(deps, job, entry, { attempt, startedAt, outcome: 'failed', error }).catch((recordErr) =>
        log.error({ err: recordErr }, 'could not record attempt'),
      );
      const durationMs = Date.now() - startedAt;
      const swapped = errorName(err) === 'PluginSwapError';
      const permanent = isPermanentError(err);
      const final = !swapped && (permanent || attempt >= (job.opts.attempts ?? 1));
      if (!swapped) log.warn({ durationMs, final, err: { name: error?.name, message: error?.message } }, 'job attempt failed');
      deps.events.emit('attempt.ended', { ...about, durationMs, outcome: 'failed', errorName: errorName(err), final });
      if (swapped) return rerunOnNewVersion(job, token, log, error);

      // A permanent error reaches BullMQ under the name it knows for "do not retry".
      if (permanent) throw toUnrecoverable(error);
      throw err;
    } finally {
      lease.release(completed);
    }
  };
}

/**
 * A child logger made on first use: most attempts log nothing, and a pino
 * child per job costs more than the no-op job itself.
 */
function lazyChild(parent: Logger, bindings: Record<string, unknown>): Logger {
  let child: Logger | undefined;
  const get = () => (child ??= parent.child(bindings));
  return new Proxy({} as Logger, {
    get: (_target, prop) => {
      const value = Reflect.get(get(), prop);
      return typeof value === 'function' ? value.bind(get()) : value;
    },
  });
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

/** When the job became ready to run: its delay's end, else its creation. */
function readySince(job: Job): number {
  return job.timestamp + (job.opts.delay ?? 0);
}

function parsePayload(job: Job<JobEnvelope>, entry: JobTypeEntry, secrets: SecretBox | undefined): unknown {
  const data = job.data as Partial<JobEnvelope> | undefined;
  if (!data || typeof data !== 'object' || !('payload' in data)) {
    throw new PermanentError('stored job has no payload envelope', { reason: 'invalid_payload' });
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

interface RunOptions {
  job: Job<JobEnvelope>;
  attempt: number;
  log: Logger;
  timeoutMs?: number;
  signals: (AbortSignal | undefined)[];
  settings: Record<string, unknown>;
  outbound: OutboundGuard;
  services: ReturnType<typeof serviceContext>;
  sdkEntry: string;
  pluginServices: PluginServices;
}

/**
 * Runs a handler. Its signal fires on the first of: the timeout, a cancel,
 * the worker's shutdown. The attempt ends when the signal fires even if the
 * handler ignores it: a handler cannot hold its job past the timeout.
 */
async function runHandler(entry: JobTypeEntry, payload: unknown, run: RunOptions): Promise<unknown> {
  const controller = new AbortController();
  const abortWith = (reason: unknown) => controller.abort(reason);

  const timer = run.timeoutMs ? setTimeout(() => abortWith(new TimeoutError(run.timeoutMs!)), run.timeoutMs) : undefined;
  const unlink = run.signals.map((signal) => link(signal, abortWith));

  const ctx: HandlerContext = {
    jobId: run.job.id!,
    type: run.job.name,
    attempt: run.attempt,
    signal: controller.signal,
    log: run.log,
    progress: (value) => run.job.updateProgress(value),
    tenant: run.job.data.tenant,
    idempotencyKey: run.job.data.idempotencyKey,
    config: run.settings[entry.plugin.name],
    http: createHttpClient({ guard: run.outbound, signal: controller.signal }),
    ...run.services,
    ...run.pluginServices.forJob(entry.plugin.name, run.job),
  };

  const aborted = new Promise<never>((_, reject) => {
    const fail = () => reject(abortReason(controller.signal));
    if (controller.signal.aborted) fail();
    else controller.signal.addEventListener('abort', fail, { once: true });
  });

  try {
    return await Promise.race([Promise.resolve().then(() => invoke(entry, payload, ctx, run)), aborted]);
  } finally {
    clearTimeout(timer);
    for (const off of unlink) off();
    // The race is settled; a late abort must not surface as an unhandled rejection.
    aborted.catch(() => {});
  }
}

/**
 * Calls the handler: in a thread of its own for an `isolated` job type,
 * else right here, reporting a handler that held the event loop too long.
 */
function invoke(entry: JobTypeEntry, payload: unknown, ctx: HandlerContext, run: RunOptions): unknown {
  if (entry.definition.isolated) {
    return runIsolated(entry, { sdkEntry: run.sdkEntry, outboundAllow: run.outbound.allow }, payload, ctx);
  }

  const started = performance.now();
  const result = entry.definition.handler(payload, ctx);
  const blockedMs = Math.round(performance.now() - started);
  if (blockedMs >= BLOCKED_WARN_MS) {
    run.log.warn({ blockedMs }, 'handler blocked the event loop; mark its job type isolated');
  }
  return result;
}

function link(signal: AbortSignal | undefined, onAbort: (reason: unknown) => void): () => void {
  if (!signal) return () => {};
  const listener = () => onAbort(signal.reason);
  if (signal.aborted) listener();
  else signal.addEventListener('abort', listener, { once: true });
  return () => signal.removeEventListener('abort', listener);
}

function abortReason(signal: AbortSignal): Error {
  const reason = signal.reason;
  return reason instanceof Error ? reason : new Error(String(reason ?? 'aborted'));
}

async function record(
  deps: ProcessorDeps,
  job: Job,
  entry: JobTypeEntry,
  outcome: { attempt: number; startedAt: number; outcome: AttemptRecord['outcome']; error?: Error },
): Promise<void> {
  const record: AttemptRecord = {
    attempt: outcome.attempt,
    startedAt: outcome.startedAt,
    endedAt: Date.now(),
    worker: deps.workerId,
    plugin: entry.plugin.name,
    pluginVersion: entry.plugin.version,
    pluginHash: entry.plugin.hash,
    outcome: outcome.outcome,
  };
  if (outcome.error) {
    record.error = {
      name: errorName(outcome.error) ?? 'Error',
      message: String(outcome.error?.message ?? outcome.error),
      stack: outcome.error?.stack,
    };
  }
  await appendAttempt(deps.redis, deps.keys.job(deps.queue, job.id!), record);
}

function toUnrecoverable(err: Error): UnrecoverableError {
  const unrecoverable = new UnrecoverableError(`${err.name}: ${err.message}`);
  unrecoverable.stack = err.stack;
  return unrecoverable;
}
