import type { Job } from '../../client/index.ts';

export interface DemoSummary {
  submitted: number;
  rejected: number;
  completed: number;
  failed: number;
  inFlight: number;
  submitSeconds: number;
  totalSeconds: number;
  throughputPerSec: number;
  timeInQueueMs: { p50: number; p95: number; p99: number };
}

/** Summarises the jobs as last read; `rejected` counts submissions the API refused. */
export function summarise(jobs: Job[], rejected: number, startedAt: number, submittedAt: number, endedAt: number): DemoSummary {
  const completed = jobs.filter((j) => j.state === 'completed').length;
  const failed = jobs.filter((j) => j.state === 'failed' || j.state === 'dlq').length;
  const waits = jobs
    .filter((j) => j.attempts.length > 0)
    .map((j) => j.attempts[0].startedAt - (j.timestamps.createdAt + (j.options.delayMs ?? 0)))
    .sort((a, b) => a - b);
  const totalSeconds = (endedAt - startedAt) / 1000;

  return {
    submitted: jobs.length,
    rejected,
    completed,
    failed,
    inFlight: jobs.length - completed - failed,
    submitSeconds: round((submittedAt - startedAt) / 1000),
    totalSeconds: round(totalSeconds),
    throughputPerSec: round((completed + failed) / totalSeconds),
    timeInQueueMs: { p50: percentile(waits, 0.5), p95: percentile(waits, 0.95), p99: percentile(waits, 0.99) },
  };
}

/** Nearest-rank percentile of sorted values; 0 for none. */
export function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
