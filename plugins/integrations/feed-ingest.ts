import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  columnsSchema,
  failureForStatus,
  insertRows,
  PermanentError,
  readRecords,
  rowValidator,
  sqlIdentifier,
  z,
  type HandlerContext,
  type SourceRecord,
} from '../../src/sdk/index.ts';

export const feedSchema = z.object({
  /** Names the feed: its ETag and content hash are kept under it. */
  name: z.string().regex(/^[A-Za-z0-9._-]{1,100}$/),
  url: z.url({ protocol: /^https?$/ }),
  headers: z.record(z.string(), z.string()).default({}),
  /** `json` is one array of objects; `csv` has a header line; `ndjson` one object a line. */
  format: z.enum(['csv', 'ndjson', 'json']),
  database: z.string(),
  table: sqlIdentifier,
  columns: columnsSchema,
  /** Rows with the same key are updated; without a key rows are only added. */
  key: z.array(sqlIdentifier).min(1).optional(),
  /** More bad rows than this rejects the whole feed (nothing is imported). */
  maxBadRows: z.number().int().min(0).default(0),
  maxBytes: z.number().int().min(1).default(50 * 1024 * 1024),
});

type FeedPayload = z.infer<typeof feedSchema>;

interface FeedState {
  etag?: string;
  sha256: string;
  importedAt: number;
  rows: number;
}

/**
 * Fetches a partner's feed and imports it whole, or not at all. A feed the
 * server answers 304 to (`If-None-Match` with the last ETag), or whose
 * SHA-256 equals the last imported one, is skipped. The body is streamed to
 * a temporary file while hashed, then validated and imported in one
 * transaction: a feed with too many bad rows changes nothing.
 */
export async function ingestFeed(payload: FeedPayload, ctx: HandlerContext) {
  const stateKey = `feed:${payload.name}`;
  const last = await ctx.kv.get<FeedState>(stateKey);

  // 1. Fetch, unless the server says nothing changed.
  const headers: Record<string, string> = { ...payload.headers };
  if (last?.etag) headers['if-none-match'] = last.etag;
  const response = await ctx.http.fetch(payload.url, { headers, timeoutMs: 120_000 });
  if (response.status === 304) {
    await response.body?.cancel();
    return { name: payload.name, skipped: 'not_modified' as const };
  }
  const failure = failureForStatus(response.status, response.headers.get('retry-after'), 'feed');
  if (failure || !response.body) {
    await response.body?.cancel();
    throw failure ?? new PermanentError('feed answered without a body', { reason: 'empty_feed' });
  }

  const dir = await mkdtemp(join(tmpdir(), 'tm-feed-'));
  try {
    // 2. Keep and hash the body; an unchanged body is skipped.
    const file = join(dir, 'feed');
    const sha256 = await download(response.body, file, payload.maxBytes);
    const etag = response.headers.get('etag') ?? undefined;
    if (last?.sha256 === sha256) {
      await ctx.kv.set(stateKey, { ...last, etag });
      return { name: payload.name, skipped: 'unchanged' as const };
    }

    // 3. Validate every row before writing any.
    const validate = rowValidator(payload.columns);
    const rows: Record<string, unknown>[] = [];
    const bad: { row: number; errors: string[] }[] = [];
    for await (const item of records(file, payload.format)) {
      const checked = item.record ? validate(item.record) : { errors: [item.error!] };
      if ('errors' in checked) bad.push({ row: item.index, errors: checked.errors });
      else rows.push(checked.row);
    }
    if (bad.length > payload.maxBadRows) {
      throw new PermanentError(`feed has ${bad.length} bad rows; first: ${JSON.stringify(bad.slice(0, 3))}`, { reason: 'bad_feed' });
    }

    // 4. Import in one transaction, then remember what was imported.
    const onConflict = payload.key ? { columns: payload.key, action: 'update' as const } : undefined;
    await ctx.db(payload.database).transaction(async (tx) => {
      for (let i = 0; i < rows.length; i += 500) await insertRows(tx, payload.table, rows.slice(i, i + 500), onConflict);
    });
    await ctx.kv.set(stateKey, { etag, sha256, importedAt: Date.now(), rows: rows.length } satisfies FeedState);
    return { name: payload.name, imported: rows.length, badRows: bad.length, badExamples: bad.slice(0, 10), sha256 };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function download(body: ReadableStream<Uint8Array>, file: string, maxBytes: number): Promise<string> {
  const hash = createHash('sha256');
  let size = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      size += chunk.length;
      if (size > maxBytes) return done(new PermanentError(`feed is larger than ${maxBytes} bytes`, { reason: 'feed_too_large' }));
      hash.update(chunk);
      done(null, chunk);
    },
  });
  await pipeline(Readable.fromWeb(body as import('node:stream/web').ReadableStream), meter, createWriteStream(file));
  return hash.digest('hex');
}

async function* records(file: string, format: FeedPayload['format']): AsyncIterable<SourceRecord> {
  if (format !== 'json') {
    yield* readRecords(createReadStream(file), format);
    return;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new PermanentError(`feed is not valid JSON: ${(err as Error).message}`, { reason: 'bad_feed' });
  }
  if (!Array.isArray(parsed)) throw new PermanentError('a json feed must be one array of objects', { reason: 'bad_feed' });
  let index = 0;
  for (const item of parsed) {
    index++;
    yield item && typeof item === 'object' && !Array.isArray(item) ? { index, record: item } : { index, error: 'not an object' };
  }
}
