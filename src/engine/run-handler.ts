import type { Job } from 'bullmq';
import { TimeoutError, type JobEnvelope } from '../core/index.ts';
import type { JobTypeEntry } from '../plugins/index.ts';
import type { HandlerContext } from '../sdk/types.ts';
import type { AttemptBreakers } from './attempt-breakers.ts';
import type { Logger } from './logger.ts';
import { createHttpClient } from './outbound.ts';
import type { OutboundGuard } from './outbound-guard.ts';
import type { serviceContext } from './job-services.ts';
import { runIsolated } from './isolated-runner.ts';
import type { PluginServices } from './services/plugin-services.ts';

/** A handler that holds the event loop this long in one go is reported: it delays every other job. */
const BLOCKED_WARN_MS = 500;

export interface RunOptions {
  job: Job<JobEnvelope>;
  attempt: number;
  log: Logger;
  timeoutMs?: number;
  /** Any of these firing aborts the run with its reason (cancel, shutdown). */
  signals: (AbortSignal | undefined)[];
  settings: Record<string, unknown>;
  /** Checks every outbound request the code makes through `ctx.http`. */
  outbound: OutboundGuard;
  /** The per-host breakers the code's `ctx.http` requests go through. */
  breakers?: AttemptBreakers;
  /** Files, notifications, checkpoints and follow-up jobs for the code. */
  services: ReturnType<typeof serviceContext>;
  /** The SDK module an isolated handler's thread resolves `taskmaster/sdk` to. */
  sdkEntry: string;
  /** Databases, key-value store, cache and flows for the code. */
  pluginServices: PluginServices;
}

/**
 * Runs plugin code (a handler or a fallback function) with a context whose
 * signal fires on the first of: the timeout, a cancel, the worker's
 * shutdown. The run ends when the signal fires even if the code ignores it:
 * plugin code cannot hold its job past the timeout.
 */
export async function runBounded(
  entry: JobTypeEntry,
  run: RunOptions,
  call: (ctx: HandlerContext) => unknown,
): Promise<unknown> {
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
    http: createHttpClient({ guard: run.outbound, signal: controller.signal, breakers: run.breakers }),
    ...run.services,
    ...run.pluginServices.forJob(entry.plugin.name, run.job),
  };

  const aborted = new Promise<never>((_, reject) => {
    const fail = () => reject(abortReason(controller.signal));
    if (controller.signal.aborted) fail();
    else controller.signal.addEventListener('abort', fail, { once: true });
  });

  try {
    return await Promise.race([Promise.resolve().then(() => call(ctx)), aborted]);
  } finally {
    clearTimeout(timer);
    for (const off of unlink) off();
    // The race is settled; a late abort must not surface as an unhandled rejection.
    aborted.catch(() => {});
  }
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

/**
 * Calls the job type's handler: in a thread of its own for an `isolated`
 * job type, else right here, reporting a handler that held the event loop
 * too long.
 */
export function invokeHandler(entry: JobTypeEntry, payload: unknown, ctx: HandlerContext, run: RunOptions): unknown {
  if (entry.definition.isolated) {
    return runIsolated(entry, { sdkEntry: run.sdkEntry, outboundAllow: run.outbound.allow, breakers: run.breakers?.remote() }, payload, ctx);
  }

  const started = performance.now();
  const result = entry.definition.handler(payload, ctx);
  const blockedMs = Math.round(performance.now() - started);
  if (blockedMs >= BLOCKED_WARN_MS) {
    run.log.warn({ blockedMs }, 'handler blocked the event loop; mark its job type isolated');
  }
  return result;
}
