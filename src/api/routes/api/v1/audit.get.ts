import { defineEventHandler, getQuery } from 'h3';
import { z } from 'zod';
import { fieldIssues, ValidationError } from '../../../../engine/index.ts';
import { requireScope } from '../../../auth/require-scope.ts';
import { useContext } from '../../../context.ts';

const time = z.coerce.number().int().min(0).max(8.64e15);

const querySchema = z
  .object({
    actor: z.string().min(1).max(256).optional(),
    action: z.string().min(1).max(128).optional(),
    jobId: z.string().min(1).max(512).optional(),
    since: time.optional(),
    until: time.optional(),
    before: z.string().regex(/^\d{1,16}-\d{1,20}$/, 'must be an entry id such as 1700000000000-0').optional(),
    limit: z.coerce.number().int().min(1).max(1000).optional(),
  })
  .strict();

/**
 * The audit log, newest first (admin scope). Filters: `actor`, `action`
 * (exact, or a prefix ending in `.`), `jobId`, `since`/`until` (ms);
 * `limit` per page; `before=<next>` for the next page.
 */
export default defineEventHandler(async (event) => {
  await requireScope(event, 'admin');
  const { runtime } = await useContext();

  const parsed = querySchema.safeParse(getQuery(event));
  if (!parsed.success) throw new ValidationError('invalid audit query', fieldIssues('query', parsed.error.issues));

  return runtime.audit.list(parsed.data);
});
