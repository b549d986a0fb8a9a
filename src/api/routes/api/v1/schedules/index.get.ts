import { defineEventHandler } from 'h3';
import { requireScope } from '../../../../auth/require-scope.ts';
import { useContext } from '../../../../context.ts';

/** Every schedule with its state and next run. */
export default defineEventHandler(async (event) => {
  await requireScope(event, 'read');
  const { runtime } = await useContext();

  return { schedules: await runtime.schedules.list() };
});
