import { defineEventHandler, getQuery } from 'h3';
import { requireScope } from '../../../../auth/require-scope.ts';
import { useContext } from '../../../../context.ts';
import { parsePage } from '../../../../dlq-filter.ts';

/**
 * DLQ entries, newest first. Filters: `type`, `queue`, `tenant`, `error`
 * (text in the last error), `reason`, `from`/`to` (failure time); pages
 * with `limit` and the `nextCursor` of the previous page.
 */
export default defineEventHandler(async (event) => {
  await requireScope(event, 'read');
  const { runtime } = await useContext();

  const { cursor, limit, ...filter } = parsePage(getQuery(event));
  return runtime.dlq.list(filter, { cursor, limit });
});
