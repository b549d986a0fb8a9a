import { defineEventHandler, getRouterParam, setResponseStatus } from 'h3';
import { requireScope } from '../../../../../auth/require-scope.ts';
import { recordAudit } from '../../../../../auth/audit.ts';
import { useContext } from '../../../../../context.ts';

/**
 * Cancels a waiting, delayed or active job. 200 `cancelled` when it was not
 * running; 202 `active` when its handler's signal is being fired (it then
 * ends as cancelled). 409 for a job that already ended.
 */
export default defineEventHandler(async (event) => {
  const key = await requireScope(event, 'admin');
  const { runtime } = await useContext();

  const result = await runtime.control.cancel(getRouterParam(event, 'id', { decode: true }) ?? '', key.name);
  await recordAudit(key, { action: 'job.cancel', jobId: result.id });
  setResponseStatus(event, result.state === 'cancelled' ? 200 : 202);
  return result;
});
