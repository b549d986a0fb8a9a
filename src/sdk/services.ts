/**
 * Services TaskMaster offers every handler besides `ctx.http`: databases from
 * the configuration, a key-value store, a cache other services read, and job
 * flows. The engine implements them; plugins see only these interfaces.
 */

/** Anything that runs SQL: a database, or one transaction of it. */
export interface Queryable {
  /** Runs one statement; parameters are `$1`, `$2`, ... */
  query<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<{ rows: R[]; rowCount: number }>;
}

/** A PostgreSQL database named in the configuration (`databases.<name>`). */
export interface Database extends Queryable {
  /**
   * Streams a query's rows through a server-side cursor, `batchSize` rows at
   * a time: memory stays flat whatever the row count. Stop iterating to end it.
   * With `readOnly` it runs in a read-only transaction, so it cannot write.
   */
  stream<R = Record<string, unknown>>(
    sql: string,
    params?: unknown[],
    options?: { batchSize?: number; readOnly?: boolean },
  ): AsyncIterable<R>;
  /** Runs `work` on one connection in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T>;
}

/** A plugin's own durable key-value store in Redis (cursors, checkpoints, results). */
export interface KeyValueStore {
  get<T = unknown>(key: string): Promise<T | undefined>;
  /** Stores a JSON value; with `ttlMs` it expires. */
  set(key: string, value: unknown, options?: { ttlMs?: number }): Promise<void>;
  delete(key: string): Promise<void>;
  /** Round-trip time to Redis in ms; rejects when Redis does not answer. */
  ping(): Promise<number>;
}

/**
 * Cache entries other services read: `<prefix>:cache:<key>` holding the JSON
 * value, expiring after `ttlMs`.
 */
export interface Cache {
  set(key: string, value: unknown, ttlMs: number): Promise<void>;
  get<T = unknown>(key: string): Promise<T | undefined>;
}

/** One job of a flow and the jobs that must finish before it. */
export interface FlowNode {
  type: string;
  payload: unknown;
  options?: { queue?: string; priority?: 'critical' | 'high' | 'normal' | 'low'; retries?: number; timeoutMs?: number };
  /** Jobs that run first; their results reach this job through `ctx.children()`. */
  children?: FlowNode[];
}

/** A stored flow job and its children, as `flow.add` returns them. */
export interface FlowJobRef {
  id: string;
  type: string;
  children: FlowJobRef[];
}

/** The result of a finished child job. */
export interface ChildResult {
  id: string;
  type: string;
  result: unknown;
}

/**
 * Jobs with dependencies (BullMQ flows). Each job of a flow is validated like
 * a submission, retries on its own, and a child that fails for good fails
 * its parent, so no parent waits forever.
 */
export interface FlowClient {
  add(root: FlowNode): Promise<FlowJobRef>;
}

/** What one retention sweep removed. */
export interface SweepReport {
  name: string;
  removed: number;
  durationMs: number;
  error?: string;
}

/** The retention sweeps of TaskMaster's own data (finished jobs, report files, ...). */
export interface HousekeepingClient {
  sweep(): Promise<SweepReport[]>;
}
