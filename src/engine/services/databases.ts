import pg from 'pg';
import QueryStream from 'pg-query-stream';
import type { Config } from '../../config/index.ts';
import { PermanentError } from '../../core/index.ts';
import type { Database, Queryable } from '../../sdk/services.ts';

/**
 * The configured PostgreSQL databases: one connection pool per name per
 * process, opened on first use and closed when the process stops.
 */
export class Databases {
  private readonly pools = new Map<string, pg.Pool>();

  constructor(private readonly config: Config['databases']) {}

  /** The database named `name`; a `PermanentError` when none is configured. */
  get(name: string): Database {
    const pool = this.pool(name);
    return {
      query: <R>(sql: string, params?: unknown[]) => run<R>(pool, sql, params).catch(rethrow),
      stream: <R>(sql: string, params?: unknown[], options?: StreamOptions) =>
        permanentOnSqlError(streamRows<R>(pool, sql, params, options)),
      transaction: <T>(work: (tx: Queryable) => Promise<T>) => inTransaction(pool, work).catch(rethrow),
    };
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.end()));
    this.pools.clear();
  }

  private pool(name: string): pg.Pool {
    let pool = this.pools.get(name);
    if (pool) return pool;

    const settings = this.config[name];
    if (!settings) throw new PermanentError(`no database named ${name} is configured`, { reason: 'unknown_database' });
    pool = new pg.Pool({
      connectionString: settings.url,
      max: settings.maxConnections,
      statement_timeout: settings.statementTimeoutMs || undefined,
      application_name: 'taskmaster',
    });
    // An idle connection that breaks is dropped by the pool; the next query reports any real outage.
    pool.on('error', () => {});
    this.pools.set(name, pool);
    return pool;
  }
}

async function run<R>(client: pg.Pool | pg.PoolClient, sql: string, params?: unknown[]) {
  const result = await client.query(sql, params as unknown[]);
  return { rows: result.rows as R[], rowCount: result.rowCount ?? 0 };
}

interface StreamOptions {
  batchSize?: number;
  readOnly?: boolean;
}

async function* streamRows<R>(pool: pg.Pool, sql: string, params: unknown[] | undefined, options: StreamOptions = {}): AsyncIterable<R> {
  const client = await pool.connect();
  if (options.readOnly) await client.query('BEGIN READ ONLY');
  const stream = client.query(new QueryStream(sql, params as unknown[], { batchSize: options.batchSize ?? 500 }));
  let failed: Error | undefined;
  try {
    for await (const row of stream) yield row as R;
    if (options.readOnly) await client.query('COMMIT');
  } catch (err) {
    failed = err as Error;
    throw err;
  } finally {
    stream.destroy();
    // A connection whose query failed or was cut short is discarded, not reused.
    client.release(failed ?? !stream.readableEnded);
  }
}

async function inTransaction<T>(pool: pg.Pool, work: (tx: Queryable) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const result = await work({ query: (sql, params) => run(client, sql, params) });
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch((rollbackErr: Error) => (broken = rollbackErr));
    throw err;
  } finally {
    client.release(broken);
  }
}

/**
 * SQLSTATE classes that no retry can fix: bad data (22), integrity (23),
 * invalid transaction state such as a write in a read-only one (25), bad
 * syntax or a missing table or column (42).
 */
const PERMANENT_SQL_CLASSES = new Set(['22', '23', '25', '42']);

/** A PostgreSQL error that cannot succeed on a retry becomes a `PermanentError`; others pass as they are. */
function rethrow(err: unknown): never {
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && PERMANENT_SQL_CLASSES.has(code.slice(0, 2))) {
    throw new PermanentError((err as Error).message, { reason: `sql_${code}`, cause: err });
  }
  throw err;
}

async function* permanentOnSqlError<R>(rows: AsyncIterable<R>): AsyncIterable<R> {
  try {
    yield* rows;
  } catch (err) {
    rethrow(err);
  }
}
