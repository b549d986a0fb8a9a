import { defineEventHandler, getRouterParam, setResponseStatus } from 'h3';
import { requireScope } from '../../../../../auth/require-scope.ts';
import { recordAudit } from '../../../../../auth/audit.ts';
import { useContext } from '../../../../../context.ts';

/**
 * Retries a job that failed for good: from the DLQ it is replayed as a new
 * job (once: a second call returns the same one). 409 for a job that did
 * not fail.
 */
export default defineEventHandler(async (event) => {
  const key = await requireScope(event, 'admin');
  const { runtime } = await useContext();

  const result = await runtime.control.retry(getRouterParam(event, 'id', { decode: true }) ?? '', key.name);
  if (!result.duplicate) await recordAudit(key, { action: 'job.retry', jobId: result.jobId, target: getRouterParam(event, 'id', { decode: true }) });
  setResponseStatus(event, result.duplicate ? 200 : 202);
  return result;
});
