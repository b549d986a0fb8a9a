import { defineEventHandler, getRouterParam } from 'h3';
import { requireScope } from '../../../../auth/require-scope.ts';
import { useContext } from '../../../../context.ts';
import { httpError } from '../../../../http-error.ts';

/** One schedule: its spec, version, state and next run. */
export default defineEventHandler(async (event) => {
  await requireScope(event, 'admin');
  const { runtime } = await useContext();
  const name = getRouterParam(event, 'name', { decode: true }) ?? '';

  const schedule = await runtime.schedules.get(name);
  if (!schedule) throw httpError(404, 'not_found', `schedule ${name} not found`);
  return schedule;
});
