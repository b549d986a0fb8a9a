import { defineEventHandler, getQuery, getRouterParam, setResponseHeader } from 'h3';
import { requireScope } from '../../../../../auth/require-scope.ts';
import { useContext } from '../../../../../context.ts';
import { httpError } from '../../../../../http-error.ts';

/** The whole payload or result of a job, as a JSON file to save. */
export default defineEventHandler(async (event) => {
  await requireScope(event, 'read');
  const { runtime } = await useContext();
  const id = getRouterParam(event, 'id', { decode: true }) ?? '';
  const part = getQuery(event).part;
  if (part !== 'payload' && part !== 'result') {
    throw httpError(400, 'invalid_request', 'part must be payload or result', [{ field: 'part', message: 'expected payload or result' }]);
  }

  const job = await runtime.jobs.get(id);
  const name = `${id.replace(/[^A-Za-z0-9._-]/g, '_')}.${part}.json`;
  setResponseHeader(event, 'content-type', 'application/json; charset=utf-8');
  setResponseHeader(event, 'content-disposition', `attachment; filename="${name}"`);
  return JSON.stringify(part === 'payload' ? job.payload : (job.result ?? null), null, 2);
});
