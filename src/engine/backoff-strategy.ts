import type { MinimalJob } from 'bullmq';
import { exponentialDelayMs, retryAfterMs } from '../core/index.ts';

/**
 * BullMQ's custom backoff for jobs whose backoff type is `taskmaster`:
 * a `RetryAfterError` waits exactly what it asks; anything else waits
 * `base * 2^(retry - 1)`.
 */
export function taskmasterBackoff(attemptsMade: number, type?: string, err?: Error, job?: MinimalJob): number {
  const asked = retryAfterMs(err);
  if (asked !== undefined) return asked;

  const base = Number((job?.opts.backoff as { delay?: number } | undefined)?.delay) || 1000;
  return exponentialDelayMs(attemptsMade, base);
}
