import { z } from 'zod';
import type { DeadLetterFilter } from '../engine/index.ts';
import { fieldIssues, ValidationError } from '../engine/index.ts';

/** A time as ms since the epoch or an ISO 8601 date. */
const time = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const ms = typeof value === 'number' ? value : /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(ms)) {
    ctx.addIssue({ code: 'custom', message: 'expected ms since the epoch or an ISO 8601 date' });
    return z.NEVER;
  }
  return ms;
});

const filterSchema = z
  .object({
    type: z.string().min(1).optional(),
    queue: z.string().min(1).optional(),
    tenant: z.string().min(1).optional(),
    error: z.string().min(1).optional(),
    reason: z.string().min(1).optional(),
    from: time.optional(),
    to: time.optional(),
  })
  .strict();

const pageSchema = filterSchema.extend({
  cursor: z.string().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(500).optional(),
});

/** Reads a DLQ filter; a bad field is a 400 naming it. */
export function parseFilter(input: unknown, prefix = ''): DeadLetterFilter {
  return check(filterSchema, input ?? {}, prefix);
}

/** Reads a DLQ listing query: the filter plus `cursor` and `limit`. */
export function parsePage(query: unknown): DeadLetterFilter & { cursor?: string; limit?: number } {
  return check(pageSchema, query ?? {}, '');
}

/** True when the filter names nothing, i.e. matches every entry. */
export function isEmptyFilter(filter: DeadLetterFilter): boolean {
  return Object.values(filter).every((v) => v === undefined);
}

function check<S extends z.ZodType>(schema: S, input: unknown, prefix: string): z.infer<S> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw new ValidationError('invalid filter', fieldIssues(prefix, parsed.error.issues));
  return parsed.data;
}
