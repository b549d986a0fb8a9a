import type { MinimalJob } from 'bullmq';
import { backoffDelayMs, backoffPolicySchema, defaultBackoff, retryAfterMs, type BackoffPolicy } from '../core/index.ts';

/**
 * BullMQ's custom backoff for jobs whose backoff type is `taskmaster`:
 * a `RetryAfterError` waits exactly what it asks; anything else waits what
 * the job's backoff policy (kept in its data) gives for this retry. A job
 * written by hand without a policy gets exponential backoff from the
 * `delay` of its BullMQ backoff option, else from 1 s.
 */
export function taskmasterBackoff(attemptsMade: number, _type?: string, err?: Error, job?: MinimalJob): number {
  const asked = retryAfterMs(err);
  if (asked !== undefined) return asked;

  return backoffDelayMs(policyOf(job), attemptsMade);
}

function policyOf(job?: MinimalJob): BackoffPolicy {
  const stored = backoffPolicySchema.safeParse((job?.data as { backoff?: unknown } | undefined)?.backoff);
  if (stored.success) return stored.data;

  const base = Number((job?.opts.backoff as { delay?: number } | undefined)?.delay);
  return defaultBackoff(base > 0 ? base : undefined);
}
