import { defineEventHandler, getRouterParam, setResponseStatus } from 'h3';
import { requireScope } from '../../../../auth/require-scope.ts';
import { useContext } from '../../../../context.ts';

/** Removes a schedule; jobs it already produced are left alone. 204, or 404. */
export default defineEventHandler(async (event) => {
  await requireScope(event, 'admin');
  const { runtime } = await useContext();

  await runtime.schedules.remove(getRouterParam(event, 'name', { decode: true }) ?? '');
  setResponseStatus(event, 204);
  return null;
});
