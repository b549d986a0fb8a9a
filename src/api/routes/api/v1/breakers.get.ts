import { defineEventHandler } from 'h3';
import { requireScope } from '../../../auth/require-scope.ts';
import { useContext } from '../../../context.ts';

/**
 * Every circuit breaker that counted a job's result in the last 24 hours,
 * most recently active first: its state (`closed`, `open`, `half-open`),
 * the failures and results in its current window, since when it is in its
 * state, and for an open one when it lets the first probe through.
 */
export default defineEventHandler(async (event) => {
  await requireScope(event, 'read');
  const { runtime } = await useContext();

  return { generatedAt: Date.now(), breakers: await runtime.breakers.list() };
});
