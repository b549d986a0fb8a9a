import { defineEventHandler, getRouterParam } from 'h3';
import { recordAudit } from '../../../../auth/audit.ts';
import { requireScope } from '../../../../auth/require-scope.ts';
import { useContext } from '../../../../context.ts';
import { httpError } from '../../../../http-error.ts';

/**
 * Revokes an API key (admin scope): from the next request on, no API process
 * accepts it. 404 for an unknown id, 409 for a key from the configuration.
 */
export default defineEventHandler(async (event) => {
  const caller = await requireScope(event, 'admin');
  const id = getRouterParam(event, 'id', { decode: true }) ?? '';
  const { keys } = await useContext();

  const revoked = await keys.revoke(id).catch((err: Error) => {
    throw err.name === 'KeyConflictError' ? httpError(409, 'conflict', err.message) : err;
  });
  if (!revoked) throw httpError(404, 'not_found', `no API key ${id}`);
  await recordAudit(caller, { action: 'key.revoke', target: id, details: { name: revoked.name } });

  return { revoked: { id, name: revoked.name } };
});
