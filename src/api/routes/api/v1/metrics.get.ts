import { defineEventHandler, getQuery } from 'h3';
import { z } from 'zod';
import { fieldIssues, ValidationError } from '../../../../engine/index.ts';
import { requireScope } from '../../../auth/require-scope.ts';
import { useContext } from '../../../context.ts';

const querySchema = z.object({
  /** How far back, ms: 60 000 up to the retention. Default one hour. */
  rangeMs: z.coerce.number().int().min(60_000).optional(),
  /** Chart step, ms (at least a minute). */
  stepMs: z.coerce.number().int().min(60_000).optional(),
  /** Comma-separated queue names. */
  queue: z.string().optional(),
  type: z.string().min(1).optional(),
});

/**
 * Every queue's depth, completed and failed counts, failure rate, time in
 * queue and run time percentiles, per queue and job type, with chart series.
 */
export default defineEventHandler(async (event) => {
  await requireScope(event, 'read');
  const parsed = querySchema.safeParse(getQuery(event));
  if (!parsed.success) throw new ValidationError('invalid query', fieldIssues('', parsed.error.issues));
  const { runtime } = await useContext();

  const query = parsed.data;
  return runtime.metrics.snapshot({
    rangeMs: query.rangeMs,
    stepMs: query.stepMs,
    queues: query.queue?.split(',').filter(Boolean),
    type: query.type,
  });
});
