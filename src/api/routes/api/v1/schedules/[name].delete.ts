import { defineEventHandler, getRouterParam, setResponseStatus } from 'h3';
import { recordAudit } from '../../../../auth/audit.ts';
import { requireScope } from '../../../../auth/require-scope.ts';
import { useContext } from '../../../../context.ts';

/** Removes a schedule; jobs it already produced are left alone. 204, or 404. Audited as `schedule.delete`. */
export default defineEventHandler(async (event) => {
  const key = await requireScope(event, 'admin');
  const { runtime } = await useContext();
  const name = getRouterParam(event, 'name', { decode: true }) ?? '';

  await runtime.schedules.remove(name);
  await recordAudit(key, { action: 'schedule.delete', target: name });
  setResponseStatus(event, 204);
  return null;
});
