import { defineEventHandler, getRouterParam } from 'h3';
import { queueOfJobId } from '../../../../../../core/index.ts';
import { buildTimeline } from '../../../../../../engine/index.ts';
import { requireScope } from '../../../../../auth/require-scope.ts';
import { useContext } from '../../../../../context.ts';

/** A job's timeline: submitted, queued, each attempt, retries, actions, the end. */
export default defineEventHandler(async (event) => {
  await requireScope(event, 'read');
  const { runtime } = await useContext();
  const id = getRouterParam(event, 'id', { decode: true }) ?? '';

  const job = await runtime.jobs.get(id);
  const history = await runtime.history.read(queueOfJobId(id)!, id);
  return { id, timeline: buildTimeline(job, history) };
});
