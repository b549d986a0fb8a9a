import { z } from 'zod';
import { DAY, SECOND } from './time.ts';

/** Default number of retries after the first run: six runs in all. */
export const DEFAULT_RETRIES = 5;

/** Default first backoff; each later one doubles: 1 s, 2 s, 4 s, 8 s, 16 s. */
export const DEFAULT_BACKOFF_MS = 1 * SECOND;

/** No wait is ever longer than this, whatever a policy asks. */
export const MAX_BACKOFF_MS = 7 * DAY;

const delay = z.number().int().min(0).max(MAX_BACKOFF_MS);

/**
 * How long a job waits before each retry.
 * - `fixed`: `delayMs` before every retry;
 * - `exponential`: `delayMs * factor^(retry - 1)` (factor 2 by default);
 * - `list`: `delaysMs[retry - 1]`, the last entry repeating when retries outnumber it.
 *
 * `maxDelayMs` caps each wait. `jitter` spreads waits so that jobs failing
 * together do not come back together: `full` picks uniformly in [0, wait],
 * `equal` in [wait / 2, wait]. The cap applies before the jitter.
 */
export const backoffPolicySchema = z
  .object({
    type: z.enum(['fixed', 'exponential', 'list']),
    delayMs: delay.optional(),
    factor: z.number().min(1).max(10).optional(),
    delaysMs: z.array(delay).min(1).max(100).optional(),
    maxDelayMs: delay.optional(),
    jitter: z.enum(['none', 'full', 'equal']).optional(),
  })
  .strict()
  .superRefine((policy, ctx) => {
    if (policy.type === 'list' && !policy.delaysMs) {
      ctx.addIssue({ code: 'custom', path: ['delaysMs'], message: 'a list backoff needs delaysMs' });
    }
    if (policy.type !== 'list' && policy.delaysMs) {
      ctx.addIssue({ code: 'custom', path: ['delaysMs'], message: `delaysMs only applies to a list backoff, not ${policy.type}` });
    }
    if (policy.type !== 'exponential' && policy.factor !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['factor'], message: 'factor only applies to an exponential backoff' });
    }
  });

export type BackoffPolicy = z.infer<typeof backoffPolicySchema>;

/** The default policy: exponential from 1 s, doubling, no cap below 7 days, no jitter. */
export function defaultBackoff(baseMs = DEFAULT_BACKOFF_MS): BackoffPolicy {
  return { type: 'exponential', delayMs: baseMs, factor: 2 };
}

/**
 * The wait before retry number `retry` (1 for the first retry). With the
 * default policy the five waits are 1, 2, 4, 8 and 16 s and add up to 31 s,
 * so a job that always fails reaches the DLQ about 31 s plus six run times
 * after it first started. `random` returns a number in [0, 1).
 */
export function backoffDelayMs(policy: BackoffPolicy, retry: number, random: () => number = Math.random): number {
  const n = Math.max(1, Math.floor(retry));
  let wait: number;
  switch (policy.type) {
    case 'fixed':
      wait = policy.delayMs ?? DEFAULT_BACKOFF_MS;
      break;
    case 'exponential':
      wait = exponentialDelayMs(n, policy.delayMs ?? DEFAULT_BACKOFF_MS, policy.factor ?? 2);
      break;
    case 'list': {
      const list = policy.delaysMs ?? [DEFAULT_BACKOFF_MS];
      wait = list[Math.min(n, list.length) - 1];
      break;
    }
  }

  wait = Math.min(wait, policy.maxDelayMs ?? MAX_BACKOFF_MS, MAX_BACKOFF_MS);
  if (policy.jitter === 'full') return Math.round(random() * wait);
  if (policy.jitter === 'equal') return Math.round(wait / 2 + random() * (wait / 2));
  return Math.round(wait);
}

/** `baseMs * factor^(retry - 1)`, the exponential wait before retry number `retry`. */
export function exponentialDelayMs(retry: number, baseMs: number, factor = 2): number {
  return baseMs * factor ** Math.max(0, retry - 1);
}

/** The sum of every wait a policy gives a job with `retries` retries, without jitter. */
export function totalBackoffMs(policy: BackoffPolicy, retries: number): number {
  let total = 0;
  for (let retry = 1; retry <= retries; retry++) total += backoffDelayMs({ ...policy, jitter: 'none' }, retry);
  return total;
}
