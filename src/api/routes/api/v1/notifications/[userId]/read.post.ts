import { defineEventHandler, getRouterParam } from 'h3';
import { z } from 'zod';
import { fieldIssues, ValidationError } from '../../../../../../engine/index.ts';
import { requireScope } from '../../../../../auth/require-scope.ts';
import { readJson } from '../../../../../body.ts';
import { useContext } from '../../../../../context.ts';

const bodySchema = z.union([
  z.object({ ids: z.array(z.string().min(1).max(128)).min(1).max(1000) }).strict(),
  z.object({ all: z.literal(true) }).strict(),
]);

/**
 * Marks notifications read: `{ "ids": [...] }` or `{ "all": true }`. Answers
 * how many changed and how many stay unread.
 */
export default defineEventHandler(async (event) => {
  await requireScope(event, 'submit');
  const body = await readJson(event);
  const { runtime } = await useContext();

  const parsed = bodySchema.safeParse(body);
  if (!parsed.success) {
    throw new ValidationError('body must be { ids: [...] } or { all: true }', fieldIssues('', parsed.error.issues));
  }

  const userId = getRouterParam(event, 'userId', { decode: true }) ?? '';
  const marked = await runtime.inbox.markRead(userId, 'all' in parsed.data ? 'all' : parsed.data.ids);
  const { unread } = await runtime.inbox.list(userId, { limit: 1 });
  return { marked, unread };
});
