import { defineEventHandler } from 'h3';
import { requestFleetReload } from '../../../../../engine/index.ts';
import { recordAudit } from '../../../../auth/audit.ts';
import { requireScope } from '../../../../auth/require-scope.ts';
import { useContext } from '../../../../context.ts';
import { httpError } from '../../../../http-error.ts';

/**
 * Reloads the plugins of every process (admin scope) and answers once each
 * live process (workers and API) reported: what each loaded, removed or
 * rejected, and the versions it serves now. `ok` is false when any process
 * rejected a plugin or did not answer in time; the versions before keep
 * serving there.
 */
export default defineEventHandler(async (event) => {
  const key = await requireScope(event, 'admin');
  const { runtime } = await useContext();
  if (!runtime.fleet) throw httpError(503, 'unavailable', 'this process takes no part in reloads');

  const { requestId, outcomes, missing } = await requestFleetReload(runtime.redis, runtime.keys, {
    alsoWaitFor: [runtime.processId],
  });
  const ok = !missing.length && outcomes.every((o) => !o.error && !o.report?.rejected.length);
  await recordAudit(key, { action: 'plugins.reload', details: { requestId, ok, processes: outcomes.length } });
  return { requestId, ok, outcomes, missing };
});
