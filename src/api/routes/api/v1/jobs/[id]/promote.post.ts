import { defineEventHandler, getRouterParam } from 'h3';
import { requireScope } from '../../../../../auth/require-scope.ts';
import { recordAudit } from '../../../../../auth/audit.ts';
import { useContext } from '../../../../../context.ts';

/**
 * Runs a delayed job now: 200 with `state: waiting` and when it was due.
 * 409 for a job that is not delayed (waiting, running, ended). Recorded in
 * the audit log and in the job's history.
 */
export default defineEventHandler(async (event) => {
  const key = await requireScope(event, 'admin');
  const { runtime } = await useContext();

  const result = await runtime.control.promote(getRouterParam(event, 'id', { decode: true }) ?? '', key.name);
  await recordAudit(key, { action: 'job.promote', jobId: result.id, details: { wasDueAt: result.wasDueAt } });
  return result;
});
