import { defineEventHandler, getQuery } from 'h3';
import { requireScope } from '../../../../auth/require-scope.ts';
import { recordAudit } from '../../../../auth/audit.ts';
import { useContext } from '../../../../context.ts';
import { isEmptyFilter, parseFilter } from '../../../../dlq-filter.ts';
import { httpError } from '../../../../http-error.ts';

/** Purges the DLQ entries matching the query's filter; an empty filter needs `all=true`. */
export default defineEventHandler(async (event) => {
  const key = await requireScope(event, 'admin');
  const { runtime } = await useContext();

  const { all, ...query } = getQuery(event);
  const filter = parseFilter(query);
  if (isEmptyFilter(filter) && all !== 'true') {
    throw httpError(400, 'invalid_request', 'purging every entry needs all=true', [{ field: 'all', message: 'required without a filter' }]);
  }
  const purged = await runtime.dlq.purge(filter);
  await recordAudit(key, { action: 'dlq.purge', details: { filter, purged } });
  return { purged };
});
