import { defineEventHandler, getRouterParam } from 'h3';
import { requireScope } from '../../../../auth/require-scope.ts';
import { useContext } from '../../../../context.ts';

/** One job: state, payload, options, every attempt with its plugin version, result. */
export default defineEventHandler(async (event) => {
  await requireScope(event, 'read');
  const { runtime } = await useContext();

  return runtime.jobs.get(getRouterParam(event, 'id', { decode: true }) ?? '');
});
