import type { Keys, RedisClient } from '../redis/index.ts';
import { UnavailableError } from './errors.ts';

/** One recorded action: who did what, when, on which job or object. */
export interface AuditEntry {
  /** The entry's stream id; entries sort by it, newest last. */
  id: string;
  /** When it happened, ms since the epoch, by the Redis server's clock (from the id). */
  at: number;
  /** Who: an API key's name, or `cli:<os user>` for the command line. */
  actor: string;
  /** What, as `area.verb`: `key.create`, `key.revoke`, `job.retry`, `dlq.replay`, ... */
  action: string;
  /** The job acted on, when there is one. */
  jobId?: string;
  /** Another object acted on: a key id, a queue, a plugin. */
  target?: string;
  /** Anything else worth keeping; never secrets, never whole payloads. */
  details?: Record<string, unknown>;
}

/** What a caller records; the id and time are added. */
export type AuditInput = Omit<AuditEntry, 'id' | 'at'>;

export interface AuditQuery {
  actor?: string;
  /** An exact action, or a prefix ending in `.` (`key.` matches every key action). */
  action?: string;
  jobId?: string;
  /** Oldest time to include, ms. */
  since?: number;
  /** Newest time to include, ms. */
  until?: number;
  /** Continue after this entry id (the `next` of an earlier page). */
  before?: string;
  /** Entries per page (default 100, at most 1000). */
  limit?: number;
}

export interface AuditPage {
  /** Newest first. */
  entries: AuditEntry[];
  /** Pass as `before` for the next page; absent when there is no more. */
  next?: string;
}

export interface AuditOptions {
  /** Entries kept at most; the oldest go first. */
  maxEntries: number;
  /** Entries older than this are dropped when new ones are written. */
  retentionMs: number;
}

/** Stream entries read per round trip while filtering. */
const BATCH = 500;
/** Entries one query looks through before it returns a page with a `next` cursor. */
const SCAN_LIMIT = 20 * BATCH;

/**
 * The audit log: every admin action and key change, kept in one Redis stream
 * so every API and worker process appends to and reads the same log. The
 * stream is capped by count and by age on each write.
 */
export class AuditLog {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly options: AuditOptions,
  ) {}

  /**
   * Appends an entry. Throws `UnavailableError` when Redis cannot take it, so
   * a caller that must not act unrecorded can stop.
   */
  async record(input: AuditInput): Promise<AuditEntry> {
    const body = JSON.stringify(dropUndefined(input));
    const key = this.keys.audit();
    const oldest = Date.now() - this.options.retentionMs;

    // One key, so MULTI is cluster-safe; a crash between the two leaves at
    // most a few entries past the cap until the next write trims them.
    const replies = await this.redis
      .multi()
      .xadd(key, 'MAXLEN', String(this.options.maxEntries), '*', 'e', body)
      .xtrim(key, 'MINID', String(Math.max(0, oldest)))
      .exec()
      .catch((err: Error) => {
        throw new UnavailableError(`Redis cannot take the audit entry: ${err.message}`, { cause: err });
      });
    const [err, id] = replies?.[0] ?? [new Error('no reply')];
    if (err) throw new UnavailableError(`Redis cannot take the audit entry: ${err.message}`, { cause: err });

    return parseEntry(id as string, ['e', body])!;
  }

  /** Entries matching `query`, newest first, one page at a time. */
  async list(query: AuditQuery = {}): Promise<AuditPage> {
    const limit = Math.min(Math.max(1, query.limit ?? 100), 1000);
    const key = this.keys.audit();
    const entries: AuditEntry[] = [];

    // Stream ids start with their time in ms, so time bounds are id bounds.
    let end = query.before ? `(${query.before}` : query.until !== undefined ? String(query.until) : '+';
    const start = query.since !== undefined ? String(query.since) : '-';
    let scanned = 0;

    try {
      while (scanned < SCAN_LIMIT) {
        const batch = await this.redis.xrevrange(key, end, start, 'COUNT', BATCH);
        for (const [id, fields] of batch) {
          const entry = parseEntry(id, fields);
          if (entry && matches(entry, query)) entries.push(entry);
          if (entries.length === limit) return { entries, next: id };
        }
        scanned += batch.length;
        if (batch.length < BATCH) return { entries };
        end = `(${batch[batch.length - 1][0]}`;
      }
    } catch (err) {
      throw new UnavailableError(`Redis cannot read the audit log: ${(err as Error).message}`, { cause: err });
    }

    // Looked far enough for one request: let the caller continue from here.
    return { entries, next: end.slice(1) };
  }
}

function matches(entry: AuditEntry, query: AuditQuery): boolean {
  if (query.actor !== undefined && entry.actor !== query.actor) return false;
  if (query.jobId !== undefined && entry.jobId !== query.jobId) return false;
  if (query.action !== undefined) {
    const prefix = query.action.endsWith('.');
    if (prefix ? !entry.action.startsWith(query.action) : entry.action !== query.action) return false;
  }
  return true;
}

function parseEntry(id: string, fields: string[]): AuditEntry | undefined {
  const index = fields.indexOf('e');
  if (index < 0 || index + 1 >= fields.length) return undefined;
  try {
    const input = JSON.parse(fields[index + 1]) as AuditInput;
    return { id, at: Number(id.slice(0, id.indexOf('-'))), ...input };
  } catch {
    // Not written by us (or damaged by hand): skip it rather than fail the whole read.
    return undefined;
  }
}

function dropUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
