import { defineEventHandler } from 'h3';
import { requireScope } from '../../../../auth/require-scope.ts';
import { recordAudit } from '../../../../auth/audit.ts';
import { readOptionalJson } from '../../../../body.ts';
import { useContext } from '../../../../context.ts';
import { isEmptyFilter, parseFilter } from '../../../../dlq-filter.ts';
import { httpError } from '../../../../http-error.ts';

/**
 * Replays every DLQ entry matching `{ filter }` that was not replayed
 * before; answers how many new jobs were made and how many were skipped.
 * Replaying every entry (no filter) needs `{ all: true }`, as purging does.
 */
export default defineEventHandler(async (event) => {
  const key = await requireScope(event, 'admin');
  const body = (await readOptionalJson(event)) as { filter?: unknown; all?: unknown };
  const { runtime } = await useContext();

  const filter = parseFilter(body?.filter, 'filter');
  if (isEmptyFilter(filter) && body?.all !== true) {
    throw httpError(400, 'invalid_request', 'replaying every entry needs all: true', [{ field: 'all', message: 'required without a filter' }]);
  }
  const result = await runtime.control.replayMatching(filter, { by: key.name });
  await recordAudit(key, { action: 'dlq.replay', details: { filter, ...result } });
  return result;
});
