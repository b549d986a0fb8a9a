import type { Job } from 'bullmq';
import type { JobEnvelope } from '../core/index.ts';
import type { JobTypeEntry } from '../plugins/index.ts';
import type { FallbackCause } from '../sdk/types.ts';
import { runBounded, type RunOptions } from './run-handler.ts';

/** Submits a job as the producer does; what a fallback of kind `type` needs. */
export type SubmitJob = (input: Record<string, unknown>, submittedBy: string) => Promise<{ id: string }>;

/** What a fallback did, kept on the job's attempt history and as its result. */
export interface FallbackOutcome {
  kind: 'job' | 'function';
  type?: string;
  jobId?: string;
  result?: unknown;
}

/**
 * Runs a job type's fallback. A fallback job type is submitted with an
 * idempotency key derived from the job id, so a worker that dies after
 * submitting and runs the fallback again does not submit a second job.
 */
export async function runFallback(
  entry: JobTypeEntry,
  job: Job<JobEnvelope>,
  payload: unknown,
  cause: FallbackCause,
  run: RunOptions,
  submit: SubmitJob,
): Promise<FallbackOutcome> {
  const fallback = entry.definition.fallback!;

  if ('type' in fallback) {
    const next = fallback.payload ? fallback.payload(payload, cause) : payload;
    const submitted = await submit(
      {
        type: fallback.type,
        payload: next,
        priority: job.data.priority,
        tenant: job.data.tenant,
        idempotencyKey: `fallback:${job.id}`,
      },
      `fallback:${job.name}`,
    );
    return { kind: 'job', type: fallback.type, jobId: submitted.id };
  }

  const result = await runBounded(entry, run, (ctx) => fallback.run(payload, ctx, cause));
  return { kind: 'function', result };
}
