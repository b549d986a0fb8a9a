import { defineEventHandler } from 'h3';
import { requireScope } from '../../../auth/require-scope.ts';
import { useContext } from '../../../context.ts';

/**
 * The results of the `health.check` job (usually run by a schedule): the
 * latest report and the recent ones, newest first.
 */
export default defineEventHandler(async (event) => {
  await requireScope(event, 'read');
  const { runtime } = await useContext();

  const kv = runtime.services.kvOf('scheduled');
  const [latest, history] = await Promise.all([kv.get('health:latest'), kv.get<unknown[]>('health:history')]);
  return { latest: latest ?? null, history: history ?? [] };
});
