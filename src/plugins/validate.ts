import { z } from 'zod';
import { backoffPolicySchema, PRIORITIES, QUEUE_NAME } from '../core/index.ts';
import type { PluginDefinition } from '../sdk/types.ts';

/** A job type name: dotted lower-case words, e.g. `webhook.deliver`. */
export const JOB_TYPE_NAME = /^[a-z][a-z0-9-]*(\.[a-z0-9][a-z0-9-]*)+$/;

const fn = z.custom<(...args: any[]) => unknown>((v) => typeof v === 'function', 'must be a function');

const jobTypeSchema = z.object({
  schema: z.custom((v) => typeof (v as any)?.safeParse === 'function', 'must be a zod schema (has safeParse)'),
  handler: fn,
  defaults: z
    .object({
      queue: z.string().regex(QUEUE_NAME).optional(),
      priority: z.enum(PRIORITIES).optional(),
      retries: z.number().int().min(0).max(100).optional(),
      backoff: backoffPolicySchema.optional(),
      timeoutMs: z.number().int().min(1).optional(),
    })
    .strict()
    .optional(),
  description: z.string().optional(),
  isolated: z.boolean().optional(),
  downstream: fn.optional(),
  fallback: z
    .object({
      type: z.string().regex(JOB_TYPE_NAME).optional(),
      payload: fn.optional(),
      run: fn.optional(),
      afterOpenMs: z.number().int().min(0).optional(),
    })
    .strict()
    .refine((f) => Boolean(f.type) !== Boolean(f.run), 'set exactly one of type and run')
    .refine((f) => !f.payload || f.type, 'payload only applies with type')
    .optional(),
});

const pluginSchema = z.object({
  name: z.string().regex(/^[a-z][a-z0-9-]{0,63}$/, 'must be lower-case letters, digits and dashes'),
  version: z.string().min(1).max(64),
  jobs: z
    .record(z.string(), jobTypeSchema)
    .refine((jobs) => Object.keys(jobs).length > 0, 'must declare at least one job type')
    .superRefine((jobs, ctx) => {
      // Checked here rather than as the record's key schema, whose error would not name the rule.
      for (const type of Object.keys(jobs)) {
        if (!JOB_TYPE_NAME.test(type)) ctx.addIssue({ code: 'custom', path: [type], message: 'job type names look like `area.action`' });
      }
    }),
  onInit: fn.optional(),
  onShutdown: fn.optional(),
});

/** Checks a module's default export; returns the problems found, empty when valid. */
export function validatePlugin(value: unknown): string[] {
  const result = pluginSchema.safeParse(value);
  if (result.success) return [];
  return result.error.issues.map((i) => `${i.path.join('.') || '(plugin)'}: ${i.message}`);
}

export type { PluginDefinition };
