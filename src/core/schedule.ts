import { z } from 'zod';
import { PRIORITIES } from './priority.ts';
import { QUEUE_NAME } from './job.ts';

/** A schedule name: lower-case letters, digits, dots, dashes and underscores. */
export const SCHEDULE_NAME = /^[a-z0-9][a-z0-9._-]{0,99}$/;

/**
 * What a schedule does with slots that passed while no TaskMaster process was
 * running: `skip` them, run `once` for all of them, or run `all` of them (the
 * latest `limit`).
 */
export const MISSED_RUN_POLICIES = ['skip', 'once', 'all'] as const;

/**
 * What a schedule does when a slot comes while its previous job has not
 * finished: `skip` the slot, or `queue` one run that starts once it has.
 */
export const OVERLAP_POLICIES = ['skip', 'queue'] as const;

/** True when the runtime knows the IANA time zone. */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    // Intl throws a RangeError for an unknown zone: that is the answer.
    return false;
  }
}

/** How long a produced job and its record are kept; unset fields take the configured retention. */
export const retentionOptionsSchema = z
  .object({
    completedAgeMs: z.number().int().min(0).optional(),
    completedCount: z.number().int().min(0).optional(),
    failedAgeMs: z.number().int().min(0).optional(),
  })
  .strict();

export type RetentionOptions = z.infer<typeof retentionOptionsSchema>;

/** Options every job of a schedule gets. */
export const scheduleJobOptionsSchema = z
  .object({
    queue: z.string().regex(QUEUE_NAME, 'queue must match ' + QUEUE_NAME.source).optional(),
    priority: z.enum(PRIORITIES).optional(),
    retries: z.number().int().min(0).max(100).optional(),
    timeoutMs: z.number().int().min(1).max(24 * 3600 * 1000).optional(),
    tenant: z.string().min(1).max(128).optional(),
    retention: retentionOptionsSchema.optional(),
  })
  .strict();

/**
 * One schedule as configuration and `PUT /api/v1/schedules/:name` take it:
 * when (`cron` in `timezone`, or `everyMs`), what (`type`, `payload`,
 * `options`) and what to do with missed and overlapping slots.
 */
export const scheduleSpecSchema = z
  .object({
    /** Five- or six-field cron pattern (seconds first when six), read in `timezone`. */
    cron: z.string().min(9).max(200).optional(),
    /** A fixed interval instead of `cron`, at least one second. */
    everyMs: z.number().int().min(1000).max(366 * 24 * 3600 * 1000).optional(),
    /** IANA time zone the cron pattern is read in. */
    timezone: z.string().default('UTC').refine(isTimeZone, 'timezone must be an IANA time zone'),
    type: z.string().min(1).max(128),
    payload: z.unknown().default({}),
    options: scheduleJobOptionsSchema.default({}),
    missedRuns: z
      .object({
        policy: z.enum(MISSED_RUN_POLICIES).default('skip'),
        /** Most missed runs `all` makes up for. */
        limit: z.number().int().min(1).max(1000).default(10),
      })
      .strict()
      .default({ policy: 'skip', limit: 10 }),
    overlap: z.enum(OVERLAP_POLICIES).default('skip'),
    /** A disabled schedule keeps its definition and produces nothing. */
    enabled: z.boolean().default(true),
  })
  .strict()
  .refine((s) => (s.cron === undefined) !== (s.everyMs === undefined), {
    message: 'set exactly one of cron and everyMs',
    path: ['cron'],
  });

export type ScheduleSpec = z.infer<typeof scheduleSpecSchema>;
export type ScheduleSpecInput = z.input<typeof scheduleSpecSchema>;
