import type { Database, Queryable } from '../sdk/services.ts';

/** Rows handed to the thread per call while it iterates a `stream`. */
const STREAM_BATCH = 500;

interface OpenTransaction {
  tx: Queryable;
  settle: (commit: boolean) => void;
  done: Promise<unknown>;
}

/**
 * `ctx.db` for an isolated handler, worker side. The thread cannot hold a
 * connection, an async iterator or a callback of the worker's, so each is
 * kept here under a number and the thread calls in by that number:
 * `query`; `stream` as open, next batch, close; `transaction` as begin,
 * queries on it, end (commit or roll back). `close` rolls back and ends
 * whatever the attempt left open, so no connection outlives it.
 */
export class DatabaseBridge {
  private readonly streams = new Map<number, AsyncIterator<unknown>>();
  private readonly transactions = new Map<number, OpenTransaction>();
  private nextId = 0;

  constructor(private readonly db: (name: string) => Database) {}

  query(name: string, sql: string, params?: unknown[]) {
    return this.db(name).query(sql, params);
  }

  openStream(name: string, sql: string, params?: unknown[], options?: { batchSize?: number; readOnly?: boolean }): number {
    const id = this.nextId++;
    this.streams.set(id, this.db(name).stream(sql, params, options)[Symbol.asyncIterator]());
    return id;
  }

  /** Up to `STREAM_BATCH` more rows; `done` once the query has no more. */
  async nextRows(id: number): Promise<{ rows: unknown[]; done: boolean }> {
    const iterator = this.streams.get(id);
    if (!iterator) throw new Error(`no open stream ${id}`);
    const rows: unknown[] = [];
    while (rows.length < STREAM_BATCH) {
      const next = await iterator.next();
      if (next.done) {
        this.streams.delete(id);
        return { rows, done: true };
      }
      rows.push(next.value);
    }
    return { rows, done: false };
  }

  async closeStream(id: number): Promise<void> {
    const iterator = this.streams.get(id);
    this.streams.delete(id);
    await iterator?.return?.();
  }

  /** Opens a transaction on its own connection; resolves once it has begun. */
  begin(name: string): Promise<number> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      let began = false;
      const done: Promise<unknown> = this.db(name).transaction(
        (tx) =>
          new Promise((commit, rollBack) => {
            began = true;
            this.transactions.set(id, { tx, settle: (ok) => (ok ? commit(undefined) : rollBack(new RolledBack())), done });
            resolve(id);
          }),
      );
      // A failure before the transaction began rejects `begin`; a later one reaches `end`.
      done.catch((err) => {
        if (!began) reject(err);
      });
    });
  }

  txQuery(id: number, sql: string, params?: unknown[]) {
    const open = this.transactions.get(id);
    if (!open) throw new Error(`no open transaction ${id}`);
    return open.tx.query(sql, params);
  }

  /** Commits (or rolls back) and resolves when that is done; a failed commit rejects. */
  async end(id: number, commit: boolean): Promise<void> {
    const open = this.transactions.get(id);
    if (!open) throw new Error(`no open transaction ${id}`);
    this.transactions.delete(id);
    open.settle(commit);
    await open.done.catch((err) => {
      // The roll-back asked for: done as asked.
      if ((err as Error)?.name !== 'RolledBack') throw err;
    });
  }

  /** Ends what the attempt left open: streams closed, transactions rolled back. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.streams.keys()].map((id) => this.closeStream(id)));
    await Promise.allSettled([...this.transactions.keys()].map((id) => this.end(id, false)));
  }

  /** The methods alone, as the thread calls them over. */
  remote() {
    return {
      query: (name: string, sql: string, params?: unknown[]) => this.query(name, sql, params),
      openStream: (name: string, sql: string, params?: unknown[], options?: { batchSize?: number; readOnly?: boolean }) =>
        this.openStream(name, sql, params, options),
      nextRows: (id: number) => this.nextRows(id),
      closeStream: (id: number) => this.closeStream(id),
      begin: (name: string) => this.begin(name),
      txQuery: (id: number, sql: string, params?: unknown[]) => this.txQuery(id, sql, params),
      end: (id: number, commit: boolean) => this.end(id, commit),
    };
  }
}

class RolledBack extends Error {
  override name = 'RolledBack';
}
