import { createTableIfMissing, insertRows, PermanentError, quoteIdent, z, type HandlerContext, type Queryable } from '../../src/sdk/index.ts';
import { databaseName, identifier } from './settings.ts';

export const syncSchema = z.object({
  /** Names the stored cursor: runs with the same name continue where the last ended. */
  name: z.string().regex(/^[A-Za-z0-9._-]{1,100}$/),
  source: z.object({ database: databaseName, table: identifier }),
  target: z.object({ database: databaseName, table: identifier }),
  /** The unique key of a row (a unique index on the target): rows are upserted by it, and it breaks cursor ties. */
  key: identifier,
  /** The column that grows when a row changes: an updated-at timestamp, or an increasing id. */
  cursor: identifier,
  /** Columns copied; default every column of the source row. */
  columns: z.array(identifier).min(1).optional(),
  batchSize: z.number().int().min(1).max(5000).default(500),
  /** Batches one run copies at most; the next run continues. */
  maxBatches: z.number().int().min(1).default(1000),
});

type SyncPayload = z.infer<typeof syncSchema>;

const CURSOR_TABLE = `
CREATE TABLE IF NOT EXISTS taskmaster_sync_cursors (
  name text PRIMARY KEY,
  cursor_value text NOT NULL,
  cursor_key text NOT NULL,
  rows_copied bigint NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now()
)`;

/**
 * Copies rows changed since the last run from one table to another (same or
 * another database). Rows are read in `(cursor, key)` order; each batch is
 * upserted into the target in one transaction with the new cursor, which
 * lives in the target database, so a crash never skips or loses a batch.
 * The cursor is read as text, keeping a timestamp's microseconds.
 */
export async function syncData(payload: SyncPayload, ctx: HandlerContext) {
  const source = ctx.db(payload.source.database);
  const target = ctx.db(payload.target.database);
  await createTableIfMissing(target, CURSOR_TABLE);

  // 1. Where the last run ended.
  const saved = await target.query<{ cursor_value: string; cursor_key: string }>(
    'SELECT cursor_value, cursor_key FROM taskmaster_sync_cursors WHERE name = $1',
    [payload.name],
  );
  let cursor = saved.rows[0] ? { value: saved.rows[0].cursor_value, key: saved.rows[0].cursor_key } : undefined;
  const startedFrom = cursor;

  // 2. Batch by batch, in (cursor, key) order. Values travel as text, so
  // PostgreSQL parses them back into the target's types without loss.
  const table = quoteIdent(payload.source.table);
  const [cursorCol, keyCol] = [quoteIdent(payload.cursor), quoteIdent(payload.key)];
  const columns = payload.columns ?? (await columnsOf(source, payload.source.table));
  const select = columns.map((c) => `${quoteIdent(c)}::text AS ${quoteIdent(c)}`).join(', ');
  let copied = 0;
  let batches = 0;
  for (; batches < payload.maxBatches; batches++) {
    ctx.signal.throwIfAborted();
    const where = cursor ? `WHERE (${cursorCol}, ${keyCol}::text) > ($1, $2)` : '';
    const { rows } = await source.query<Record<string, unknown>>(
      `SELECT ${select}, ${cursorCol}::text AS "__tm_cursor", ${keyCol}::text AS "__tm_key"
       FROM ${table} ${where} ORDER BY ${cursorCol}, ${keyCol}::text LIMIT ${payload.batchSize}`,
      cursor ? [cursor.value, cursor.key] : [],
    );
    if (!rows.length) break;

    const last = rows[rows.length - 1];
    const next = { value: String(last.__tm_cursor), key: String(last.__tm_key) };
    const data = rows.map(({ __tm_cursor: _c, __tm_key: _k, ...row }) => row);
    await target.transaction(async (tx) => {
      await insertRows(tx, payload.target.table, data, { columns: [payload.key], action: 'update' });
      await saveCursor(tx, payload.name, next, data.length);
    });
    cursor = next;
    copied += data.length;
    await ctx.progress({ copied });
    if (rows.length < payload.batchSize) {
      batches++;
      break;
    }
  }

  return { name: payload.name, copied, batches, from: startedFrom ?? null, to: cursor ?? null };
}

async function columnsOf(db: Queryable, table: string): Promise<string[]> {
  const [schema, name] = table.includes('.') ? table.split('.') : [null, table];
  const { rows } = await db.query<{ column_name: string }>(
    `SELECT column_name FROM information_schema.columns
     WHERE table_schema = coalesce($1, current_schema()) AND table_name = $2 ORDER BY ordinal_position`,
    [schema, name],
  );
  if (!rows.length) throw new PermanentError(`source table ${table} not found`, { reason: 'no_table' });
  return rows.map((r) => r.column_name);
}

async function saveCursor(tx: Queryable, name: string, cursor: { value: string; key: string }, rows: number): Promise<void> {
  await tx.query(
    `INSERT INTO taskmaster_sync_cursors (name, cursor_value, cursor_key, rows_copied, updated_at) VALUES ($1, $2, $3, $4, now())
     ON CONFLICT (name) DO UPDATE SET cursor_value = $2, cursor_key = $3,
       rows_copied = taskmaster_sync_cursors.rows_copied + $4, updated_at = now()`,
    [name, cursor.value, cursor.key, rows],
  );
}
