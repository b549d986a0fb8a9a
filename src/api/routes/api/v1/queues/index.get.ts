import { defineEventHandler } from 'h3';
import { requireScope } from '../../../../auth/require-scope.ts';
import { useContext } from '../../../../context.ts';

/**
 * Every declared queue: waiting jobs per priority class and for the top
 * tenants, active, delayed, completed and failed counts, and the configured
 * weights, concurrency, limiter and routed job types.
 */
export default defineEventHandler(async (event) => {
  await requireScope(event, 'read');
  const { runtime } = await useContext();

  return { queues: await runtime.metrics.queueSummaries() };
});
