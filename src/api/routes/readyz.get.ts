import { defineEventHandler, setResponseStatus } from 'h3';
import { useContext } from '../context.ts';

/** Readiness: Redis answers and at least one worker process is running. */
export default defineEventHandler(async (event) => {
  const { runtime } = await useContext();
  const checks = await runtime.readiness();
  const ready = checks.redis && checks.workers;

  setResponseStatus(event, ready ? 200 : 503);
  return { status: ready ? 'ready' : 'not_ready', checks };
});
