import { defineEventHandler } from 'h3';
import { requireScope } from '../../../../auth/require-scope.ts';
import { recordAudit } from '../../../../auth/audit.ts';
import { readOptionalJson } from '../../../../body.ts';
import { useContext } from '../../../../context.ts';
import { parseFilter } from '../../../../dlq-filter.ts';

/**
 * Replays every DLQ entry matching `{ filter }` that was not replayed
 * before; answers how many new jobs were made and how many were skipped.
 */
export default defineEventHandler(async (event) => {
  const key = await requireScope(event, 'admin');
  const body = (await readOptionalJson(event)) as { filter?: unknown };
  const { runtime } = await useContext();

  const filter = parseFilter(body?.filter, 'filter');
  const result = await runtime.control.replayMatching(filter, { by: key.name });
  await recordAudit(key, { action: 'dlq.replay', details: { filter, ...result } });
  return result;
});
