import type { JobView, Runtime } from '../../src/engine/index.ts';
import { waitFor } from '../helpers/runtime.ts';

/** Waits until a job is completed or failed for good, and returns it. */
export async function finished(rt: Runtime, id: string, timeoutMs = 30_000): Promise<JobView> {
  return waitFor(async () => {
    const job = await rt.jobs.get(id);
    return ['completed', 'dlq', 'cancelled'].includes(job.state) ? job : undefined;
  }, timeoutMs);
}
