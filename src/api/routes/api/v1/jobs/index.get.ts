import { defineEventHandler, getQuery } from 'h3';
import { z } from 'zod';
import { PRIORITIES } from '../../../../../core/index.ts';
import { fieldIssues, LISTABLE_STATES, ValidationError } from '../../../../../engine/index.ts';
import { requireScope } from '../../../../auth/require-scope.ts';
import { useContext } from '../../../../context.ts';

const querySchema = z.object({
  queue: z.string().min(1).optional(),
  state: z.enum(LISTABLE_STATES).default('waiting'),
  type: z.string().min(1).optional(),
  tenant: z.string().min(1).optional(),
  priority: z.enum(PRIORITIES).optional(),
  /** Text the job's stored data must contain. */
  q: z.string().min(1).max(200).optional(),
  /** An exact job id: answered by one lookup, whatever the other filters. */
  id: z.string().min(1).optional(),
  /** An idempotency key (with `tenant` when it was given one). */
  idempotencyKey: z.string().min(1).optional(),
  cursor: z.string().regex(/^\d+$/, 'cursor must be the next value of an earlier page').optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

/**
 * Lists jobs of one queue and state, newest first for finished ones, with
 * cursor pagination; filters by type, tenant, priority and payload text, or
 * finds a job by id or idempotency key.
 */
export default defineEventHandler(async (event) => {
  await requireScope(event, 'read');
  const parsed = querySchema.safeParse(getQuery(event));
  if (!parsed.success) throw new ValidationError('invalid query', fieldIssues('', parsed.error.issues));
  const { runtime } = await useContext();
  const query = parsed.data;

  // 1. Direct lookups.
  if (query.id) {
    const job = await runtime.browser.byId(query.id);
    return { jobs: job ? [job] : [], scanned: job ? 1 : 0 };
  }
  if (query.idempotencyKey) {
    const jobs = await runtime.browser.byIdempotencyKey(query.idempotencyKey, query.tenant);
    return { jobs, scanned: jobs.length };
  }

  // 2. A page of one queue and state.
  const queue = query.queue ?? 'default';
  if (!runtime.config.queues[queue]) {
    throw new ValidationError('invalid query', [{ field: 'queue', message: `unknown queue ${queue}` }]);
  }
  return runtime.browser.list({ ...query, queue, text: query.q });
});
