import { defineEventHandler, setResponseStatus } from 'h3';
import { z } from 'zod';
import { SCOPES } from '../../../../../config/index.ts';
import { fieldIssues, ValidationError } from '../../../../../engine/index.ts';
import { recordAudit } from '../../../../auth/audit.ts';
import { requireScope } from '../../../../auth/require-scope.ts';
import { readJson } from '../../../../body.ts';
import { useContext } from '../../../../context.ts';
import { httpError } from '../../../../http-error.ts';

const newKeySchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'letters, digits, dots, dashes and underscores, 1 to 64'),
    scopes: z.array(z.enum(SCOPES)).min(1),
    jobTypes: z.array(z.string().min(1).max(128)).min(1).max(100).optional(),
    tenants: z.array(z.string().min(1).max(128)).min(1).max(1000).optional(),
    rateLimit: z
      .object({ perSecond: z.number().positive().max(1_000_000), burst: z.number().int().min(1).max(10_000_000) })
      .strict()
      .optional(),
  })
  .strict();

/**
 * Makes an API key (admin scope). The answer holds the key in clear text,
 * once; only its hash is kept. 409 when the name is taken.
 */
export default defineEventHandler(async (event) => {
  const caller = await requireScope(event, 'admin');
  const parsed = newKeySchema.safeParse(await readJson(event));
  if (!parsed.success) throw new ValidationError('invalid key', fieldIssues('', parsed.error.issues));
  const { keys } = await useContext();

  const made = await keys.create(parsed.data, caller.name).catch((err: Error) => {
    throw err.name === 'KeyConflictError' ? httpError(409, 'conflict', err.message) : err;
  });
  const { name, scopes, jobTypes, tenants } = made.record;
  await recordAudit(caller, { action: 'key.create', target: made.record.id, details: { name, scopes, jobTypes, tenants } });

  setResponseStatus(event, 201);
  return { key: made.key, ...made.record };
});
