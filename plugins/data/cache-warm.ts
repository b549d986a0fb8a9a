import { z, type HandlerContext } from '../../src/sdk/index.ts';
import { databaseName } from './settings.ts';

export const cacheWarmSchema = z.object({
  database: databaseName,
  entries: z
    .array(
      z.object({
        /** The cache key; other services read `<prefix>:cache:<key>`. */
        key: z.string().regex(/^[A-Za-z0-9:._-]{1,200}$/),
        /** A read-only query; parameters as `$1`, `$2`. */
        query: z.string().min(1).max(100_000),
        params: z.array(z.union([z.string(), z.number(), z.boolean(), z.null()])).default([]),
        ttlMs: z.number().int().min(1000),
        /** `rows`: every row; `row`: the first row (or null); `value`: the first column of the first row. */
        shape: z.enum(['rows', 'row', 'value']).default('rows'),
        /** Rows a `rows` entry holds at most; more fails the job rather than cache a cut list. */
        maxRows: z.number().int().min(1).max(100_000).default(10_000),
      }),
    )
    .min(1),
});

type CacheWarmPayload = z.infer<typeof cacheWarmSchema>;

/**
 * Computes each entry's value from its query (in a read-only transaction)
 * and writes it to the cache with its TTL. An entry whose query fails fails
 * the job; entries written before it stay.
 */
export async function warmCache(payload: CacheWarmPayload, ctx: HandlerContext) {
  const db = ctx.db(payload.database);
  const written: { key: string; rows: number; ttlMs: number }[] = [];

  for (const entry of payload.entries) {
    const rows: Record<string, unknown>[] = [];
    for await (const row of db.stream(entry.query, entry.params, { readOnly: true, batchSize: 1000 })) {
      rows.push(row);
      if (rows.length > entry.maxRows) throw new Error(`query for cache key ${entry.key} returned more than ${entry.maxRows} rows`);
      if (entry.shape !== 'rows') break;
    }

    const value = entry.shape === 'rows' ? rows : entry.shape === 'row' ? (rows[0] ?? null) : rows[0] ? Object.values(rows[0])[0] : null;
    await ctx.cache.set(entry.key, value, entry.ttlMs);
    written.push({ key: entry.key, rows: rows.length, ttlMs: entry.ttlMs });
  }

  return { written };
}
