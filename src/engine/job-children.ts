import { Job } from 'bullmq';
import { publicState } from './producer.ts';
import type { QueueSet } from './queues.ts';
import type { JobState } from '../core/index.ts';

/** A child of a flow job, as its parent's view shows it. */
export interface ChildView {
  id: string;
  type: string;
  queue: string;
  state: JobState;
}

/** Matches a BullMQ job key `<prefix>:{<queue>}:<id>`. */
const JOB_KEY = /:\{([^}]+)\}:(.+)$/;

/**
 * The children of a flow job with their states, or undefined for a job that
 * has none. Read from BullMQ's dependency sets, so every process sees the same.
 */
export async function childrenOf(job: Job, queues: QueueSet): Promise<ChildView[] | undefined> {
  const deps = await job.getDependencies();
  const keys = [
    ...Object.keys(deps.processed ?? {}),
    ...(deps.unprocessed ?? []),
    ...(deps.failed ?? []),
    ...Object.keys(deps.ignored ?? {}),
  ];
  if (!keys.length) return undefined;

  const children = await Promise.all(
    [...new Set(keys)].map(async (key) => {
      const match = JOB_KEY.exec(key);
      if (!match || !queues.has(match[1])) return undefined;
      const [, queue, id] = match;
      const child = await Job.fromId(queues.get(queue), id);
      if (!child) return { id, type: 'unknown', queue, state: 'unknown' as const };
      return { id, type: child.name, queue, state: publicState(await child.getState()) };
    }),
  );
  return children.filter((c): c is ChildView => Boolean(c)).sort((a, b) => a.id.localeCompare(b.id));
}
