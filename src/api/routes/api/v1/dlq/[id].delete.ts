import { defineEventHandler, getRouterParam, setResponseStatus } from 'h3';
import { requireScope } from '../../../../auth/require-scope.ts';
import { recordAudit } from '../../../../auth/audit.ts';
import { useContext } from '../../../../context.ts';

/** Deletes one DLQ entry. */
export default defineEventHandler(async (event) => {
  const key = await requireScope(event, 'admin');
  const { runtime } = await useContext();

  const id = getRouterParam(event, 'id', { decode: true }) ?? '';
  await runtime.dlq.delete(id);
  await recordAudit(key, { action: 'dlq.delete', target: id });
  setResponseStatus(event, 204);
  return null;
});
