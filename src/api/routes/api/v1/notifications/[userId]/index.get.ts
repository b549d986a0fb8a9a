import { defineEventHandler, getQuery, getRouterParam } from 'h3';
import { z } from 'zod';
import { fieldIssues, ValidationError } from '../../../../../../engine/index.ts';
import { requireScope } from '../../../../../auth/require-scope.ts';
import { useContext } from '../../../../../context.ts';

const querySchema = z
  .object({
    limit: z.coerce.number().int().min(1).max(1000).default(50),
    /** `true` lists unread notifications only. */
    unread: z.enum(['true', 'false']).default('false'),
  })
  .strict();

/** One user's in-app notifications, newest first, with the unread count. */
export default defineEventHandler(async (event) => {
  await requireScope(event, 'read');
  const { runtime } = await useContext();

  const parsed = querySchema.safeParse(getQuery(event));
  if (!parsed.success) throw new ValidationError('invalid notifications query', fieldIssues('query', parsed.error.issues));

  const userId = getRouterParam(event, 'userId', { decode: true }) ?? '';
  return runtime.inbox.list(userId, { limit: parsed.data.limit, unreadOnly: parsed.data.unread === 'true' });
});
