import {
  createTableIfMissing,
  failureForStatus,
  insertRows,
  parseRetryAfter,
  PermanentError,
  quoteIdent,
  RetryAfterError,
  z,
  type HandlerContext,
} from '../../src/sdk/index.ts';
import { sleep } from './settings.ts';

export const apiSyncSchema = z.object({
  /** Names the stored cursor: runs with the same name continue where the last ended. */
  name: z.string().regex(/^[A-Za-z0-9._-]{1,100}$/),
  url: z.url({ protocol: /^https?$/ }),
  headers: z.record(z.string(), z.string()).default({}),
  database: z.string(),
  /** Table `(key text primary key, data jsonb, synced_at timestamptz)`, created when missing. */
  table: z.string(),
  /** Field of an item that identifies it. */
  keyField: z.string().default('id'),
  /** Field of a page holding its items, and the one holding the next cursor (null at the end). */
  itemsField: z.string().default('items'),
  nextField: z.string().default('next'),
  /** Query parameter the cursor is sent in. */
  cursorParam: z.string().default('cursor'),
  /** Least time from one answer to the next request: the API's rate limit. */
  minIntervalMs: z.number().int().min(0).default(0),
  /** A `Retry-After` up to this long is waited out in the job; a longer one ends the attempt and retries then. */
  maxWaitMs: z.number().int().min(0).default(30_000),
  maxPages: z.number().int().min(1).default(1000),
});

type ApiSyncPayload = z.infer<typeof apiSyncSchema>;

interface SyncCursor {
  cursor: string | null;
  pages: number;
  items: number;
}

/**
 * Pages through an HTTP API with a cursor and upserts each page's items by
 * key. The cursor is saved (in the plugin's key-value store) after each page
 * is written, so a retry or the next run continues from the last page
 * written; a page written twice after a crash is upserted again, not doubled.
 * Requests keep `minIntervalMs` apart; 429 and 503 with `Retry-After` are
 * waited out, and `X-RateLimit-Remaining: 0` waits for `X-RateLimit-Reset`.
 */
export async function syncApi(payload: ApiSyncPayload, ctx: HandlerContext) {
  const db = ctx.db(payload.database);
  const table = quoteIdent(payload.table);
  await createTableIfMissing(db, `CREATE TABLE IF NOT EXISTS ${table} (key text PRIMARY KEY, data jsonb NOT NULL, synced_at timestamptz NOT NULL)`);

  const stateKey = `api-sync:${payload.name}`;
  const state: SyncCursor = (await ctx.kv.get<SyncCursor>(stateKey)) ?? { cursor: null, pages: 0, items: 0 };
  const startedAt = state.cursor;
  let pages = 0;
  let items = 0;
  let lastRequest = 0;

  for (; pages < payload.maxPages; pages++) {
    // 1. One page, as slowly as the API asks.
    const wait = lastRequest + payload.minIntervalMs - Date.now();
    if (wait > 0) await sleep(wait, ctx.signal);
    const url = new URL(payload.url);
    if (state.cursor !== null) url.searchParams.set(payload.cursorParam, state.cursor);
    const response = await ctx.http.fetch(url, { headers: { accept: 'application/json', ...payload.headers } });
    // Counted from the answer, not the request: the API then sees the gap whatever the network's delay.
    lastRequest = Date.now();

    const retryAfter = parseRetryAfter(response.headers.get('retry-after'));
    if ((response.status === 429 || response.status === 503) && retryAfter !== undefined) {
      await response.body?.cancel();
      if (retryAfter > payload.maxWaitMs) throw new RetryAfterError(`API asked to wait ${retryAfter} ms`, retryAfter);
      ctx.log.info({ retryAfterMs: retryAfter }, 'API rate limit: waiting');
      await sleep(retryAfter, ctx.signal);
      pages--;
      continue;
    }
    const failure = failureForStatus(response.status, response.headers.get('retry-after'), 'API');
    if (failure) {
      await response.body?.cancel();
      throw failure;
    }
    const page = (await response.json()) as Record<string, unknown>;
    const list = page[payload.itemsField];
    if (!Array.isArray(list)) throw new PermanentError(`page has no ${payload.itemsField} array`, { reason: 'bad_page' });

    // 2. Its items, then the cursor past them.
    const rows = list.map((item) => ({ key: String((item as Record<string, unknown>)[payload.keyField]), data: JSON.stringify(item), synced_at: new Date().toISOString() }));
    if (rows.some((r) => r.key === 'undefined')) throw new PermanentError(`an item lacks ${payload.keyField}`, { reason: 'bad_item' });
    await insertRows(db, payload.table, rows, { columns: ['key'], action: 'update' });
    items += rows.length;
    const next = page[payload.nextField];
    const nextCursor = next === null || next === undefined || next === '' ? state.cursor : String(next);
    Object.assign(state, { cursor: nextCursor, pages: state.pages + 1, items: state.items + rows.length });
    await ctx.kv.set(stateKey, state);
    await ctx.progress({ pages: pages + 1, items });
    if (nextCursor === null || String(next ?? '') === '') {
      pages++;
      break;
    }

    // 3. An exhausted rate limit: wait for its reset before the next page.
    if (response.headers.get('x-ratelimit-remaining') === '0') {
      const resetMs = Number(response.headers.get('x-ratelimit-reset')) * 1000;
      if (resetMs > 0) await sleep(Math.min(resetMs, payload.maxWaitMs), ctx.signal);
    }
  }

  return { name: payload.name, pages, items, from: startedAt, cursor: state.cursor };
}
