import { defineEventHandler, getRouterParam } from 'h3';
import { z } from 'zod';
import { fieldIssues, findRollbackVersion, requestFleetReload, ValidationError } from '../../../../../../engine/index.ts';
import { recordAudit } from '../../../../../auth/audit.ts';
import { requireScope } from '../../../../../auth/require-scope.ts';
import { readJson } from '../../../../../body.ts';
import { useContext } from '../../../../../context.ts';

const bodySchema = z.object({ hash: z.string().regex(/^[0-9a-f]{16}$/, 'must be a version hash from the history') }).strict();

/**
 * Rolls a plugin back to an earlier version (admin scope): every process puts
 * the version's kept files (from Redis) back in place of the current ones on
 * its machine, then reloads. Answers like a reload, with the version restored.
 */
export default defineEventHandler(async (event) => {
  const key = await requireScope(event, 'admin');
  const { runtime } = await useContext();
  const name = getRouterParam(event, 'name', { decode: true }) ?? '';
  const parsed = bodySchema.safeParse(await readJson(event));
  if (!parsed.success) throw new ValidationError('invalid rollback', fieldIssues('', parsed.error.issues));

  const restored = await findRollbackVersion(runtime.redis, runtime.keys, runtime.registry, name, parsed.data.hash);
  const { requestId, outcomes, missing } = await requestFleetReload(runtime.redis, runtime.keys, {
    alsoWaitFor: runtime.fleet ? [runtime.processId] : [],
    restore: { name, hash: restored.hash },
  });
  const ok = !missing.length && outcomes.every((o) => !o.error && !o.report?.rejected.length);
  await recordAudit(key, { action: 'plugins.rollback', target: name, details: { hash: restored.hash, version: restored.version, ok } });
  return { restored, requestId, ok, outcomes, missing };
});
