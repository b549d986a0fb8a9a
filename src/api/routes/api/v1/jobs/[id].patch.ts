import { defineEventHandler, getRouterParam } from 'h3';
import { z } from 'zod';
import { PRIORITIES } from '../../../../../core/index.ts';
import { fieldIssues, ValidationError } from '../../../../../engine/index.ts';
import { requireScope } from '../../../../auth/require-scope.ts';
import { recordAudit } from '../../../../auth/audit.ts';
import { readJson } from '../../../../body.ts';
import { useContext } from '../../../../context.ts';

const bodySchema = z.object({ priority: z.enum(PRIORITIES) }).strict();

/**
 * Changes a waiting or delayed job's priority class: `{ "priority": "critical" }`.
 * It applies at the job's next dispatch. 409 for a running or ended job.
 */
export default defineEventHandler(async (event) => {
  const key = await requireScope(event, 'admin');
  const parsed = bodySchema.safeParse(await readJson(event));
  if (!parsed.success) throw new ValidationError('invalid job change', fieldIssues('', parsed.error.issues));
  const { runtime } = await useContext();

  const id = getRouterParam(event, 'id', { decode: true }) ?? '';
  const result = await runtime.control.changePriority(id, parsed.data.priority, key.name);
  await recordAudit(key, { action: 'job.priority', jobId: id, details: { from: result.from, to: result.priority } });
  return result;
});
