import { z } from 'zod';
import { backoffPolicySchema, type BackoffPolicy } from './backoff.ts';
import { PRIORITIES, type Priority } from './priority.ts';

/** A queue name: lower-case letters, digits and dashes, starting with a letter. */
export const QUEUE_NAME = /^[a-z][a-z0-9-]{0,62}$/;

/** What a producer may set on a job, besides its type and payload. */
export const jobOptionsSchema = z
  .object({
    priority: z.enum(PRIORITIES).optional(),
    queue: z.string().regex(QUEUE_NAME, 'queue must match ' + QUEUE_NAME.source).optional(),
    delayMs: z.number().int().min(0).max(365 * 24 * 3600 * 1000).optional(),
    retries: z.number().int().min(0).max(100).optional(),
    backoff: backoffPolicySchema.optional(),
    timeoutMs: z.number().int().min(1).max(24 * 3600 * 1000).optional(),
    idempotencyKey: z.string().min(1).max(256).optional(),
    tenant: z.string().min(1).max(128).optional(),
  })
  .strict();

export type JobOptions = z.infer<typeof jobOptionsSchema>;

/** A submission as the API and the CLI accept it. */
export const jobSubmissionSchema = jobOptionsSchema
  .extend({
    type: z.string().min(1).max(128),
    payload: z.unknown(),
  })
  .strict();

export type JobSubmission = z.infer<typeof jobSubmissionSchema>;

/**
 * What TaskMaster stores as a BullMQ job's data. A producer writing straight
 * to Redis with BullMQ must use this shape, with the job type as the job name.
 */
export interface JobEnvelope {
  payload: unknown;
  priority: Priority;
  tenant?: string;
  idempotencyKey?: string;
  timeoutMs: number;
  /** The retry waits; absent on jobs written by hand, which get the service default. */
  backoff?: BackoffPolicy;
  /** The DLQ entry this job replays, when it is a replay. */
  replayOf?: string;
  /** Unique per submission: tells a stored job from a duplicate's attempt. */
  submissionId: string;
  /** Name of the API key (or `cli`) that submitted it. */
  submittedBy?: string;
  /** Paths of payload fields stored encrypted (marked `secret()` in the schema). */
  secretPaths?: (string | number)[][];
}

/** One run of a job's handler, as recorded on the job. */
export interface AttemptRecord {
  attempt: number;
  startedAt: number;
  endedAt: number;
  worker: string;
  plugin: string;
  pluginVersion: string;
  pluginHash: string;
  /**
   * `interrupted`: the worker shut down past its drain limit and put the job
   * back to wait; the attempt does not count against the job's retries.
   * `deferred`: a breaker probe that failed; it used no retry. `cancelled`:
   * the job was cancelled while it ran.
   */
  outcome: 'completed' | 'failed' | 'cancelled' | 'deferred' | 'interrupted';
  /** `reason`: what a `PermanentError` said, e.g. `invalid_payload`. */
  error?: { name: string; message: string; stack?: string; reason?: string };
  /** Set when a fallback ran after this attempt: what ran and what it gave. */
  fallback?: { kind: 'job' | 'function'; type?: string; jobId?: string; reason: string };
}

/**
 * Where a job is. Every accepted job ends `completed`, `cancelled` or `dlq`;
 * `failed` is only the short step between BullMQ failing a job and the
 * engine moving it to the DLQ.
 */
export type JobState =
  | 'waiting'
  | 'delayed'
  | 'active'
  | 'completed'
  | 'failed'
  | 'cancelled'
  | 'dlq'
  | 'unknown';
