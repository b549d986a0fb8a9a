import { defineEventHandler } from 'h3';
import { liveWorkerInfo, pluginHistory } from '../../../../../engine/index.ts';
import { requireScope } from '../../../../auth/require-scope.ts';
import { useContext } from '../../../../context.ts';

/**
 * The plugins of every live worker process (versions, hashes, job types,
 * load time, jobs run per version, rejected sources), this process's own,
 * and the history of every version ever loaded. Two processes showing
 * different hashes for one plugin is a reload still rolling out.
 */
export default defineEventHandler(async (event) => {
  await requireScope(event, 'read');
  const { runtime } = await useContext();

  const [workers, history] = await Promise.all([
    liveWorkerInfo(runtime.redis, runtime.keys),
    pluginHistory(runtime.redis, runtime.keys),
  ]);
  return {
    processes: workers.map((w) => ({
      id: w.id,
      host: w.host,
      pid: w.pid,
      queues: w.queues,
      plugins: w.plugins,
      rejected: w.rejected ?? [],
    })),
    self: {
      id: runtime.processId,
      worker: Boolean(runtime.workerPool),
      plugins: runtime.registry.versions(),
      rejected: runtime.registry.rejected(),
      lastReload: runtime.fleet?.lastOutcome,
    },
    history,
  };
});
