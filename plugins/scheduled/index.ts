import { definePlugin, z, type HandlerContext } from '../../src/sdk/index.ts';
import { checkHealth, healthSchema } from './health.ts';

/** `taskmaster.cleanup`: runs every retention sweep of TaskMaster's own data. */
async function cleanup(_payload: unknown, ctx: HandlerContext) {
  const sweeps = await ctx.housekeeping.sweep();
  const failed = sweeps.filter((s) => s.error);
  if (failed.length) ctx.log.warn({ failed: failed.map((s) => s.name) }, 'some retention sweeps failed');
  return { sweeps, removed: sweeps.reduce((sum, s) => sum + s.removed, 0) };
}

/**
 * Jobs meant to run on a schedule: retention cleanup of TaskMaster's own
 * data, and health checks whose results the API shows.
 */
export default definePlugin({
  name: 'scheduled',
  version: '1.0.0',
  jobs: {
    'taskmaster.cleanup': {
      description: "Remove TaskMaster's own data past its retention: finished jobs, report files.",
      schema: z.object({}),
      handler: cleanup,
      defaults: { retries: 1 },
    },
    'health.check': {
      description: 'Check HTTP endpoints, Redis and PostgreSQL; keep the results for GET /api/v1/health-checks.',
      schema: healthSchema,
      handler: checkHealth,
      defaults: { retries: 0 },
    },
  },
});
