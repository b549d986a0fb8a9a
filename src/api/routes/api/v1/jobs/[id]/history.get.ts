import { defineEventHandler, getRouterParam } from 'h3';
import { queueOfJobId } from '../../../../../../core/index.ts';
import { buildTimeline, type HistoryEntry } from '../../../../../../engine/index.ts';
import { requireScope } from '../../../../../auth/require-scope.ts';
import { useContext } from '../../../../../context.ts';

/** Audit entries of one job read for its timeline; older ones are left out. */
const AUDIT_ENTRIES = 100;

/** Actions that also write a line in the job's own history, shown once from there. */
const IN_JOB_HISTORY = new Set(['job.promote', 'job.priority']);

/**
 * A job's timeline: submitted, queued, each attempt, retries scheduled, what
 * the engine did with it (its history list), every action taken on it (from
 * the audit log, with the key that did it) and how it ended.
 */
export default defineEventHandler(async (event) => {
  await requireScope(event, 'read');
  const { runtime } = await useContext();
  const id = getRouterParam(event, 'id', { decode: true }) ?? '';

  const job = await runtime.jobs.get(id);
  const [history, audit] = await Promise.all([
    runtime.history.read(queueOfJobId(id)!, id),
    runtime.audit.list({ jobId: id, since: job.timestamps.createdAt, limit: AUDIT_ENTRIES }),
  ]);
  const actions: HistoryEntry[] = audit.entries
    .filter((entry) => !IN_JOB_HISTORY.has(entry.action))
    .map((entry) => ({
      at: entry.at,
      kind: entry.action,
      by: entry.actor,
      message: describe(entry.action, entry.details),
      details: entry.details,
    }));
  return { id, timeline: buildTimeline(job, [...history, ...actions]) };
});

function describe(action: string, details: Record<string, unknown> | undefined): string {
  if (!details || !Object.keys(details).length) return action;
  const parts = Object.entries(details)
    .filter(([, v]) => v === null || ['string', 'number', 'boolean'].includes(typeof v))
    .map(([k, v]) => `${k}: ${String(v)}`);
  return parts.length ? `${action} (${parts.join(', ')})` : action;
}
