import { idempotentJobId, PRIORITIES, queueOfJobId, type Priority } from '../../core/index.ts';
import type { Keys, RedisClient } from '../../redis/index.ts';
import { UnavailableError } from '../errors.ts';
import { filterJobs, type RowFilter } from './filter-script.ts';
import { readIds, type ListableState } from './sources.ts';

/** A job as a list shows it: no payload, no result. */
export interface JobSummary {
  id: string;
  queue: string;
  type: string;
  state: ListableState;
  priority: Priority | null;
  tenant: string | null;
  submittedBy: string | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  attemptsMade: number;
  /** The last error, cut to 200 characters. */
  error: string | null;
}

export interface JobListQuery {
  queue: string;
  state: ListableState;
  type?: string;
  tenant?: string;
  priority?: Priority;
  /** Text the stored job data (payload, tenant, key) must contain, any case. */
  text?: string;
  /** Where the previous page stopped (`next` of that page). */
  cursor?: string;
  limit?: number;
  /** Time a filtered page may spend looking before it answers with `next` (default `SCAN_BUDGET_MS`). */
  budgetMs?: number;
}

export interface JobListPage {
  jobs: JobSummary[];
  /** Pass as `cursor` for the next page; absent at the end. */
  next?: string;
  /** Jobs looked at for this page. */
  scanned: number;
}

/** Ids looked at per round trip while filtering, at most and at least. */
const CHUNK = 500;
const MIN_CHUNK = 50;
/** Most jobs one filtered page looks at; a page can come back short, with `next`. */
export const SCAN_LIMIT = 5_000;
/** Time after which a filtered page stops looking (after one chunk at least). */
export const SCAN_BUDGET_MS = 60;
const FIELDS = ['name', 'data', 'timestamp', 'processedOn', 'finishedOn', 'atm', 'failedReason'] as const;

/**
 * Lists and finds jobs for the dashboard without an index of its own:
 * - a page of a state is read by rank, so its cost does not grow with the
 *   number of jobs stored;
 * - filters that Redis cannot answer from an index (type, tenant, text)
 *   look at most `SCAN_LIMIT` jobs, or for `SCAN_BUDGET_MS`, per page, and
 *   hand back a cursor to go on from;
 * - a job id or an idempotency key is a direct lookup.
 */
export class JobBrowser {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly queueNames: readonly string[],
  ) {}

  async list(query: JobListQuery): Promise<JobListPage> {
    const limit = Math.min(Math.max(query.limit ?? 50, 1), 200);
    // Priority is a filter like the others: a fair queue's waiting jobs are not kept by class in one set.
    const filtered = Boolean(query.type || query.tenant || query.text || query.priority);
    let rank = query.cursor ? Math.max(0, Number.parseInt(query.cursor, 10) || 0) : 0;
    const jobs: JobSummary[] = [];
    let scanned = 0;
    const started = Date.now();
    const deadline = started + (query.budgetMs ?? SCAN_BUDGET_MS);

    try {
      for (;;) {
        // 1. The next ids of the state, by rank.
        const want = filtered ? nextChunk(scanned, Date.now() - started, deadline - Date.now()) : limit - jobs.length;
        const page = await readIds(this.redis, this.keys, query.queue, query.state, rank, want);

        // 2. Filters Redis answers itself, sending back only matching ids.
        const picked = filtered
          ? await filterJobs(this.redis, this.jobKeyPrefix(query.queue), page.ids, filterOf(query), limit - jobs.length)
          : { looked: page.ids.length, ids: page.ids };

        // 3. The rows of those jobs; a job removed meanwhile is skipped.
        for (const row of await this.rows(query.queue, picked.ids)) {
          if (row) jobs.push(summarize(row, query.state));
        }
        scanned += picked.looked;
        rank += picked.looked;

        const exhausted = page.next === undefined && picked.looked === page.ids.length;
        if (exhausted) return { jobs, scanned };
        if (jobs.length >= limit || scanned >= SCAN_LIMIT || Date.now() >= deadline) return { jobs, scanned, next: String(rank) };
      }
    } catch (err) {
      throw new UnavailableError(`Redis cannot list jobs: ${(err as Error).message}`, { cause: err });
    }
  }

  /** The job with this id, when it exists, in whatever state. */
  async byId(id: string): Promise<JobSummary | undefined> {
    const queue = queueOfJobId(id);
    if (!queue || !this.queueNames.includes(queue)) return undefined;

    const [row] = await this.rows(queue, [id]);
    if (!row) return undefined;
    return summarize(row, await this.stateOf(queue, id));
  }

  /** Jobs submitted with this idempotency key, in every queue (the id is derived from it). */
  async byIdempotencyKey(key: string, tenant?: string): Promise<JobSummary[]> {
    const found = await Promise.all(this.queueNames.map((q) => this.byId(idempotentJobId(q, tenant, key))));
    return found.filter((j): j is JobSummary => Boolean(j));
  }

  private jobKeyPrefix(queue: string): string {
    return this.keys.job(queue, '');
  }

  private async rows(queue: string, ids: string[]): Promise<(Row | undefined)[]> {
    if (!ids.length) return [];
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hmget(this.keys.job(queue, id), ...FIELDS);
    const replies = (await pipeline.exec()) ?? [];
    return ids.map((id, i) => {
      const [err, values] = replies[i] ?? [new Error('no reply')];
      if (err) throw err;
      const v = values as (string | null)[];
      // A job removed between reading its id and its hash is skipped.
      if (v[0] === null && v[1] === null) return undefined;
      return { id, queue, name: v[0] ?? '', data: v[1] ?? '', timestamp: v[2], processedOn: v[3], finishedOn: v[4], atm: v[5], failedReason: v[6] };
    });
  }

  private async stateOf(queue: string, id: string): Promise<ListableState> {
    const key = (name: string) => `${this.keys.prefix}:${this.keys.bullQueue(queue)}:${name}`;
    const [completed, failed, delayed, prioritized] = await Promise.all([
      this.redis.zscore(key('completed'), id),
      this.redis.zscore(key('failed'), id),
      this.redis.zscore(key('delayed'), id),
      this.redis.zscore(key('prioritized'), id),
    ]);
    if (completed !== null) return 'completed';
    if (failed !== null) return 'failed';
    if (delayed !== null) return 'delayed';
    if (prioritized !== null) return 'waiting';
    return (await this.redis.lpos(key('active'), id)) !== null ? 'active' : 'waiting';
  }
}

/**
 * How many ids the next filtered round trip looks at: a full chunk at first,
 * then as many as the time spent per id so far says fit in what is left of
 * the budget, so the last round trip does not run far past it.
 */
function nextChunk(scanned: number, spentMs: number, leftMs: number): number {
  const room = SCAN_LIMIT - scanned;
  if (scanned === 0 || spentMs <= 0) return Math.min(CHUNK, room);
  const fit = Math.floor(leftMs / (spentMs / scanned));
  return Math.min(CHUNK, room, Math.max(MIN_CHUNK, fit));
}

/** The fields of a job hash a list needs. */
interface Row {
  id: string;
  queue: string;
  name: string;
  data: string;
  timestamp: string | null;
  processedOn: string | null;
  finishedOn: string | null;
  atm: string | null;
  failedReason: string | null;
}

interface Envelope {
  priority?: string;
  tenant?: string;
  submittedBy?: string;
}

function envelope(row: Row): Envelope {
  try {
    const data = JSON.parse(row.data);
    return data && typeof data === 'object' ? data : {};
  } catch {
    // Written by hand with broken JSON: listed, with no envelope fields.
    return {};
  }
}

function filterOf(query: JobListQuery): RowFilter {
  return { type: query.type, tenant: query.tenant, priority: query.priority, text: query.text };
}

function summarize(row: Row, state: ListableState): JobSummary {
  const data = envelope(row);
  const number = (v: string | null) => (v ? Number(v) : null);
  return {
    id: row.id,
    queue: row.queue,
    type: row.name,
    state,
    priority: (PRIORITIES as readonly string[]).includes(data.priority ?? '') ? (data.priority as Priority) : null,
    tenant: data.tenant ?? null,
    submittedBy: data.submittedBy ?? null,
    createdAt: Number(row.timestamp ?? 0),
    startedAt: number(row.processedOn),
    finishedAt: number(row.finishedOn),
    attemptsMade: Number(row.atm ?? 0),
    error: row.failedReason ? row.failedReason.slice(0, 200) : null,
  };
}
