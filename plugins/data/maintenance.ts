import { createTableIfMissing, quoteIdent, z, type HandlerContext } from '../../src/sdk/index.ts';
import { databaseName, identifier } from './settings.ts';

export const maintenanceSchema = z.object({
  database: databaseName,
  /** Tables to `ANALYZE`. */
  analyze: z.array(identifier).default([]),
  /** Tables to `VACUUM (ANALYZE)`. */
  vacuum: z.array(identifier).default([]),
  /** Rows older than `olderThanMs` by `column` are deleted, `batchSize` at a time. */
  retention: z
    .array(
      z.object({
        table: identifier,
        column: identifier,
        olderThanMs: z.number().int().min(1000),
        batchSize: z.number().int().min(1).max(100_000).default(1000),
      }),
    )
    .default([]),
});

type MaintenancePayload = z.infer<typeof maintenanceSchema>;

/** One thing maintenance did. */
interface Step {
  action: 'analyze' | 'vacuum' | 'delete';
  table: string;
  rows?: number;
  batches?: number;
  durationMs: number;
}

const LOG_TABLE = `
CREATE TABLE IF NOT EXISTS taskmaster_maintenance_log (
  id bigserial PRIMARY KEY,
  job_id text NOT NULL,
  action text NOT NULL,
  target text NOT NULL,
  rows bigint,
  duration_ms integer NOT NULL,
  done_at timestamptz NOT NULL DEFAULT now()
)`;

/**
 * Runs the maintenance a payload (usually a schedule's) names: deletions past
 * a retention age first, in batches so that no lock is held long, then
 * VACUUM and ANALYZE. Each step is logged to `taskmaster_maintenance_log` in
 * the same database as it finishes, and returned as the job's result.
 */
export async function runMaintenance(payload: MaintenancePayload, ctx: HandlerContext) {
  const db = ctx.db(payload.database);
  await createTableIfMissing(db, LOG_TABLE);
  const steps: Step[] = [];
  const record = async (step: Step) => {
    steps.push(step);
    await db.query('INSERT INTO taskmaster_maintenance_log (job_id, action, target, rows, duration_ms) VALUES ($1, $2, $3, $4, $5)', [
      ctx.jobId,
      step.action,
      step.table,
      step.rows ?? null,
      Math.round(step.durationMs),
    ]);
  };

  // 1. Retention: batched deletes, each its own short statement.
  for (const rule of payload.retention) {
    const started = performance.now();
    const cutoff = new Date(Date.now() - rule.olderThanMs).toISOString();
    const table = quoteIdent(rule.table);
    let rows = 0;
    let batches = 0;
    for (;;) {
      ctx.signal.throwIfAborted();
      const { rowCount } = await db.query(
        `DELETE FROM ${table} WHERE ctid IN (SELECT ctid FROM ${table} WHERE ${quoteIdent(rule.column)} < $1 LIMIT ${rule.batchSize})`,
        [cutoff],
      );
      rows += rowCount;
      batches++;
      if (rowCount < rule.batchSize) break;
    }
    await record({ action: 'delete', table: rule.table, rows, batches, durationMs: performance.now() - started });
  }

  // 2. VACUUM cannot run inside a transaction: each is a statement of its own.
  for (const table of payload.vacuum) {
    const started = performance.now();
    await db.query(`VACUUM (ANALYZE) ${quoteIdent(table)}`);
    await record({ action: 'vacuum', table, durationMs: performance.now() - started });
  }
  for (const table of payload.analyze) {
    const started = performance.now();
    await db.query(`ANALYZE ${quoteIdent(table)}`);
    await record({ action: 'analyze', table, durationMs: performance.now() - started });
  }

  ctx.log.info({ database: payload.database, steps: steps.length }, 'database maintenance done');
  return { database: payload.database, steps };
}
