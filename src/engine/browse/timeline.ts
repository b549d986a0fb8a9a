import type { JobView } from '../jobs.ts';
import type { HistoryEntry } from './history.ts';

/** One line of a job's timeline, oldest first. */
export interface TimelineEntry {
  at: number;
  kind: string;
  message: string;
  by?: string;
  attempt?: number;
  worker?: string;
  plugin?: string;
  durationMs?: number;
  error?: { name: string; message: string };
  details?: Record<string, unknown>;
}

/** Timeline kinds of the states a job ends in. */
const ENDINGS: Record<string, string> = {
  completed: 'completed',
  failed: 'failed',
  dlq: 'dead-lettered',
  cancelled: 'cancelled',
};

/**
 * A job's story from what is stored about it: the job hash (submitted,
 * delayed, finished), its attempt records (worker, plugin version, duration,
 * error, and the retry each failure led to) and its history entries.
 */
export function buildTimeline(job: JobView, history: HistoryEntry[]): TimelineEntry[] {
  const out: TimelineEntry[] = [];
  const created = job.timestamps.createdAt;

  // 1. Submission and queueing.
  const replayOf = (job as { replayOf?: string }).replayOf;
  out.push({
    at: created,
    kind: replayOf ? 'replayed' : 'submitted',
    by: job.submittedBy,
    message: replayOf ? `replayed from ${replayOf} as ${job.type}` : `submitted as ${job.type}`,
  });
  if (job.options.delayMs) {
    out.push({ at: created, kind: 'delayed', message: `delayed until ${new Date(created + job.options.delayMs).toISOString()}` });
  } else {
    out.push({ at: created, kind: 'queued', message: `queued in ${job.queue} at priority ${job.options.priority}` });
  }

  // 2. Attempts, and the retry each failure scheduled.
  job.attempts.forEach((a, i) => {
    const plugin = `${a.plugin}@${a.pluginVersion}`;
    out.push({ at: a.startedAt, kind: 'attempt.started', attempt: a.attempt, worker: a.worker, plugin, message: `attempt ${a.attempt} started on ${a.worker} with ${plugin}` });
    const durationMs = a.endedAt - a.startedAt;
    const error = a.error ? { name: a.error.name, message: a.error.message } : undefined;
    out.push({
      at: a.endedAt,
      kind: `attempt.${a.outcome}`,
      attempt: a.attempt,
      worker: a.worker,
      plugin,
      durationMs,
      error,
      message: `attempt ${a.attempt} ${a.outcome} after ${durationMs} ms${error ? `: ${error.name}: ${error.message}` : ''}`,
    });
    const next = job.attempts[i + 1];
    const retryPending = !next && a.outcome === 'failed' && (job.state === 'delayed' || job.state === 'waiting');
    if (a.outcome === 'failed' && (next || retryPending)) {
      out.push({
        at: a.endedAt,
        kind: 'retry.scheduled',
        attempt: a.attempt + 1,
        message: next ? `retry ${a.attempt} scheduled; ran after ${next.startedAt - a.endedAt} ms` : `retry ${a.attempt} scheduled`,
      });
    }
  });

  // 3. Everything recorded besides attempts: actions and engine moves.
  for (const h of history) {
    out.push({ at: h.at, kind: h.kind, by: h.by, message: h.message ?? h.kind, details: h.details });
  }

  // 4. The end, when there is one. `dlq` and `cancelled` are the states a job
  // ends in once the engine moves failed and cancelled jobs out of BullMQ.
  const state = job.state as string;
  const endedAt = job.timestamps.finishedAt;
  if (endedAt && ENDINGS[state]) {
    const detail = job.error ? `: ${job.error}` : '';
    out.push({ at: endedAt, kind: ENDINGS[state], message: `${ENDINGS[state]}${state === 'completed' ? '' : detail}` });
  }

  // A stable sort keeps same-millisecond entries in the order written above.
  return out.sort((a, b) => a.at - b.at);
}
