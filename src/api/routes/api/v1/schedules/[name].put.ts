import { defineEventHandler, getRouterParam, setResponseStatus } from 'h3';
import { requireScope } from '../../../../auth/require-scope.ts';
import { readJson } from '../../../../body.ts';
import { useContext } from '../../../../context.ts';

/**
 * Creates or replaces a schedule: 201 when created, 200 when replaced or
 * unchanged. A changed spec replaces the old one whole, state included.
 */
export default defineEventHandler(async (event) => {
  await requireScope(event, 'admin');
  const body = await readJson(event);
  const { runtime } = await useContext();
  const name = getRouterParam(event, 'name', { decode: true }) ?? '';

  const existed = Boolean(await runtime.schedules.get(name));
  const { schedule, changed } = await runtime.schedules.put(name, body, 'api');

  setResponseStatus(event, existed ? 200 : 201);
  return { ...schedule, changed };
});
