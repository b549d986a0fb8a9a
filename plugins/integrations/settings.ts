import { z } from '../../src/sdk/index.ts';

/** One external API a lead is looked up in. */
const providerSchema = z.object({
  /** `{email}` and `{domain}` in the URL are replaced, URL-encoded. */
  url: z.string().min(1),
  headers: z.record(z.string(), z.string()).default({}),
  timeoutMs: z.number().int().min(100).max(120_000).default(10_000),
});

/** A scoring rule: `points` when `field` of a provider's answer matches. */
const ruleSchema = z.object({
  provider: z.string(),
  field: z.string(),
  /** Matches when the value is at least this number; else when it equals `equals`; else when present. */
  gte: z.number().optional(),
  equals: z.union([z.string(), z.number(), z.boolean()]).optional(),
  points: z.number(),
});

/** `plugins.settings.integrations`. */
export const settingsSchema = z
  .object({
    enrichment: z
      .object({
        providers: z.record(z.string().regex(/^[a-z][a-z0-9_-]*$/), providerSchema).default({}),
        rules: z.array(ruleSchema).default([]),
        /** Where `lead.store` writes: database name and table. */
        database: z.string().default('main'),
        table: z.string().default('enriched_leads'),
      })
      .default({ providers: {}, rules: [], database: 'main', table: 'enriched_leads' }),
  })
  .default({ enrichment: { providers: {}, rules: [], database: 'main', table: 'enriched_leads' } });

export type IntegrationSettings = z.infer<typeof settingsSchema>;

export function settingsOf(config: unknown): IntegrationSettings {
  return settingsSchema.parse(config ?? {});
}

/** Waits `ms`, or rejects as soon as `signal` fires. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
