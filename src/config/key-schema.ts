import { z } from 'zod';

/** Scopes an API key can hold; `admin` implies the other two. */
export const SCOPES = ['submit', 'read', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

export const rateLimitSchema = z.strictObject({
  /** Jobs a key may submit per second, on average. */
  perSecond: z.number().positive().max(1_000_000),
  /** Jobs a key may submit at once before the average applies (the bucket's size). */
  burst: z.number().int().min(1).max(10_000_000),
});

export const apiKeySchema = z
  .strictObject({
    /** Shown in logs and on jobs as `submittedBy`; never the key itself. */
    name: z.string().min(1),
    /** The key in clear text. Prefer `keyHash`. */
    key: z.string().min(16).optional(),
    /** `sha256:<hex>` of the key, as `taskmaster keys hash` prints it. */
    keyHash: z.string().regex(/^sha256:[0-9a-f]{64}$/).optional(),
    scopes: z.array(z.enum(SCOPES)).min(1),
    /** With `submit`: the only job types this key may submit. */
    jobTypes: z.array(z.string().min(1)).min(1).optional(),
    /** With `submit`: the only tenants this key may submit for. */
    tenants: z.array(z.string().min(1)).min(1).optional(),
    /** This key's own submission rate limit, instead of `api.rateLimit`. */
    rateLimit: rateLimitSchema.optional(),
  })
  .refine((k) => Boolean(k.key) !== Boolean(k.keyHash), {
    message: 'set exactly one of key and keyHash',
  });
