import { z } from 'zod';
import { DEFAULT_WEIGHTS } from '../core/index.ts';

/** One queue's settings: concurrency, rate limit, and how its work is scheduled. */
const classWeight = z.number().int().min(1).max(1000);

export const queueSchema = z.strictObject({
  /** Jobs of this queue one worker process runs at once. */
  concurrency: z.number().int().min(1).max(10_000).default(10),
  /**
   * At most `max` jobs of this queue start per `durationMs`, counted across
   * every worker process (BullMQ's rate limiter), e.g. to stay under an SMS
   * provider's rate: `{ "max": 10, "durationMs": 1000 }`.
   */
  limiter: z
    .strictObject({ max: z.number().int().min(1), durationMs: z.number().int().min(1) })
    .optional(),
  /**
   * Weighted fair scheduling between priority classes and tenants (see the
   * README's Scheduling section). `false` serves classes strictly by BullMQ
   * priority, as BullMQ alone would.
   */
  fair: z.boolean().default(true),
  /** Share of starts per priority class when every class has work waiting. */
  weights: z
    .strictObject({
      critical: classWeight.default(DEFAULT_WEIGHTS.critical),
      high: classWeight.default(DEFAULT_WEIGHTS.high),
      normal: classWeight.default(DEFAULT_WEIGHTS.normal),
      low: classWeight.default(DEFAULT_WEIGHTS.low),
    })
    .strict()
    .default(DEFAULT_WEIGHTS),
  /** Job types sent to this queue when a job names no queue (over a plugin's own default). */
  types: z.array(z.string().min(1)).default([]),
  /**
   * Per-tenant settings: `weight` (turns taken in a row, default 1) and
   * `maxRunning` (jobs of the tenant running at once in this queue, counted
   * across every worker process; unset means no cap).
   */
  tenants: z
    .record(
      z.string().min(1).max(128),
      z.strictObject({ weight: z.number().int().min(1).max(1000).default(1), maxRunning: z.number().int().min(1).optional() }),
    )
    .default({}),
});
