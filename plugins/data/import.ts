import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import {
  failureForStatus,
  columnsSchema,
  insertRows,
  PermanentError,
  readRecords,
  RECORD_FORMATS,
  rowValidator,
  z,
  type HandlerContext,
  type Queryable,
  createTableIfMissing,
} from '../../src/sdk/index.ts';
import { databaseName, filePath, identifier } from './settings.ts';

/** Bad rows whose details are kept; the rest are only counted. */
const EXAMPLES_KEPT = 10;

export const importSchema = z.object({
  database: databaseName,
  table: identifier,
  /** A file in the configured folder, or an http(s) URL. */
  source: z.union([z.object({ path: z.string().min(1) }).strict(), z.object({ url: z.url({ protocol: /^https?$/ }) }).strict()]),
  format: z.enum(RECORD_FORMATS),
  columns: columnsSchema.refine((c) => Object.keys(c).length > 0, 'declare at least one column'),
  batchSize: z.number().int().min(1).max(5000).default(500),
  /** More bad rows than this fails the import (rows committed so far stay). */
  maxBadRows: z.number().int().min(0).default(100),
  onConflict: z.object({ columns: z.array(identifier).min(1), action: z.enum(['ignore', 'update']) }).optional(),
  /** Names the checkpoint; default the job id, so a retry resumes and a new job starts over. */
  importId: z.string().min(1).max(200).optional(),
});

type ImportPayload = z.infer<typeof importSchema>;

interface Checkpoint {
  rowsRead: number;
  rowsWritten: number;
  badRows: number;
  badExamples: { row: number; errors: string[] }[];
}

const CHECKPOINT_TABLE = `
CREATE TABLE IF NOT EXISTS taskmaster_import_checkpoints (
  import_id text PRIMARY KEY,
  rows_read bigint NOT NULL,
  rows_written bigint NOT NULL,
  bad_rows bigint NOT NULL,
  bad_examples jsonb NOT NULL,
  finished boolean NOT NULL DEFAULT false,
  updated_at timestamptz NOT NULL DEFAULT now()
)`;

/**
 * Streams a CSV or NDJSON source into a table in batches. Each batch and the
 * checkpoint (records read, rows written, bad rows) commit in one
 * transaction, so a retry skips exactly the records already committed and
 * no row is written twice.
 */
export async function importData(payload: ImportPayload, ctx: HandlerContext) {
  const db = ctx.db(payload.database);
  const importId = payload.importId ?? ctx.jobId;

  // 1. Where the last attempt stopped.
  await createTableIfMissing(db, CHECKPOINT_TABLE);
  const saved = await readCheckpoint(db, importId);
  if (saved?.finished) return { importId, ...saved.checkpoint, resumedFrom: saved.checkpoint.rowsRead, alreadyFinished: true };
  const progress: Checkpoint = saved?.checkpoint ?? { rowsRead: 0, rowsWritten: 0, badRows: 0, badExamples: [] };
  const resumedFrom = progress.rowsRead;
  if (resumedFrom) ctx.log.info({ importId, resumedFrom }, 'import resumes after its last committed batch');

  // 2. Read, validate, and commit batch by batch.
  const validate = rowValidator(payload.columns);
  let batch: Record<string, unknown>[] = [];
  let pending = { read: 0, bad: 0, examples: [] as Checkpoint['badExamples'] };
  const commit = async () => {
    const next: Checkpoint = {
      rowsRead: progress.rowsRead + pending.read,
      rowsWritten: progress.rowsWritten,
      badRows: progress.badRows + pending.bad,
      badExamples: [...progress.badExamples, ...pending.examples].slice(0, EXAMPLES_KEPT),
    };
    await db.transaction(async (tx) => {
      next.rowsWritten += await insertRows(tx, payload.table, batch, payload.onConflict);
      await writeCheckpoint(tx, importId, next, false);
    });
    Object.assign(progress, next);
    batch = [];
    pending = { read: 0, bad: 0, examples: [] };
    await ctx.progress({ rowsRead: progress.rowsRead, rowsWritten: progress.rowsWritten, badRows: progress.badRows });
  };

  for await (const item of readRecords(await openSource(payload, ctx), payload.format)) {
    if (item.index <= resumedFrom) continue;
    pending.read++;

    const checked = item.record ? validate(item.record) : { errors: [item.error!] };
    if ('errors' in checked) {
      pending.bad++;
      if (progress.badExamples.length + pending.examples.length < EXAMPLES_KEPT) pending.examples.push({ row: item.index, errors: checked.errors });
      if (progress.badRows + pending.bad > payload.maxBadRows) {
        await commit();
        throw new PermanentError(`more than ${payload.maxBadRows} bad rows; first: ${JSON.stringify(progress.badExamples.slice(0, 3))}`, {
          reason: 'too_many_bad_rows',
        });
      }
    } else {
      batch.push(checked.row);
    }
    if (pending.read >= payload.batchSize) await commit();
  }
  await commit();

  // 3. Done: the checkpoint stays as the record of what was imported.
  await writeCheckpoint(db, importId, progress, true);
  return { importId, ...progress, resumedFrom };
}

async function openSource(payload: ImportPayload, ctx: HandlerContext): Promise<Readable> {
  if ('path' in payload.source) return createReadStream(filePath(ctx.config, payload.source.path));

  const response = await ctx.http.fetch(payload.source.url, { timeoutMs: 60_000 });
  const failure = failureForStatus(response.status, response.headers.get('retry-after'), 'source');
  if (failure) {
    await response.body?.cancel();
    throw failure;
  }
  if (!response.body) throw new PermanentError('source answered without a body', { reason: 'empty_source' });
  return Readable.fromWeb(response.body as import('node:stream/web').ReadableStream);
}

async function readCheckpoint(db: Queryable, importId: string) {
  const { rows } = await db.query<{ rows_read: string; rows_written: string; bad_rows: string; bad_examples: Checkpoint['badExamples']; finished: boolean }>(
    'SELECT rows_read, rows_written, bad_rows, bad_examples, finished FROM taskmaster_import_checkpoints WHERE import_id = $1',
    [importId],
  );
  const row = rows[0];
  if (!row) return undefined;
  const checkpoint: Checkpoint = {
    rowsRead: Number(row.rows_read),
    rowsWritten: Number(row.rows_written),
    badRows: Number(row.bad_rows),
    badExamples: row.bad_examples,
  };
  return { checkpoint, finished: row.finished };
}

async function writeCheckpoint(db: Queryable, importId: string, c: Checkpoint, finished: boolean): Promise<void> {
  await db.query(
    `INSERT INTO taskmaster_import_checkpoints (import_id, rows_read, rows_written, bad_rows, bad_examples, finished, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, now())
     ON CONFLICT (import_id) DO UPDATE SET rows_read = $2, rows_written = $3, bad_rows = $4, bad_examples = $5, finished = $6, updated_at = now()`,
    [importId, c.rowsRead, c.rowsWritten, c.badRows, JSON.stringify(c.badExamples), finished],
  );
}
