import { defineEventHandler, getRouterParam, setResponseStatus } from 'h3';
import { z } from 'zod';
import { fieldIssues, ValidationError } from '../../../../../../engine/index.ts';
import { requireScope } from '../../../../../auth/require-scope.ts';
import { recordAudit } from '../../../../../auth/audit.ts';
import { readOptionalJson } from '../../../../../body.ts';
import { useContext } from '../../../../../context.ts';

const bodySchema = z
  .object({
    /** A corrected payload; checked against the job type's schema. */
    payload: z.unknown().optional(),
    retries: z.number().int().min(0).max(100).optional(),
    /** Make a new job even when this entry was replayed before. */
    again: z.boolean().optional(),
  })
  .strict();

/**
 * Replays one DLQ entry as a new job with a fresh retry budget: 202 with
 * the new job's id, or 200 with `duplicate: true` and the earlier job when
 * the entry was replayed before and `again` is not set.
 */
export default defineEventHandler(async (event) => {
  const key = await requireScope(event, 'admin');
  const parsed = bodySchema.safeParse(await readOptionalJson(event));
  if (!parsed.success) throw new ValidationError('invalid replay request', fieldIssues('', parsed.error.issues));
  const { runtime } = await useContext();

  const result = await runtime.control.replay(getRouterParam(event, 'id', { decode: true }) ?? '', { ...parsed.data, by: key.name });
  if (!result.duplicate) await recordAudit(key, { action: 'dlq.replay', target: result.entryId, jobId: result.jobId });
  setResponseStatus(event, result.duplicate ? 200 : 202);
  return result;
});
