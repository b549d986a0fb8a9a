import { defineEventHandler, getRouterParam } from 'h3';
import { requireScope } from '../../../../auth/require-scope.ts';
import { useContext } from '../../../../context.ts';

/** One DLQ entry: the job as it failed, every attempt, and its replays. */
export default defineEventHandler(async (event) => {
  await requireScope(event, 'read');
  const { runtime } = await useContext();

  return runtime.dlq.get(getRouterParam(event, 'id', { decode: true }) ?? '');
});
