import type { Keys, RedisClient } from '../redis/index.ts';
import { NotFoundError, ValidationError } from './errors.ts';
import { forgetEntries, storeKeys, type EndedJob } from './final-states.ts';
import { maskPayload } from './secrets.ts';

/** One replay of a DLQ entry. */
export interface ReplayRecord {
  jobId: string;
  at: number;
  by?: string;
  /** True when the payload was edited for this replay. */
  edited: boolean;
}

/** A DLQ entry as the API shows it: the ended job and its replays. */
export interface DeadLetterEntry extends EndedJob {
  replays: ReplayRecord[];
}

/** Which DLQ entries a listing, a bulk replay or a purge applies to. */
export interface DeadLetterFilter {
  type?: string;
  queue?: string;
  tenant?: string;
  /** Case-insensitive text the last error message must contain. */
  error?: string;
  reason?: string;
  /** Failed at or after (ms since the epoch). */
  from?: number;
  /** Failed at or before (ms since the epoch). */
  to?: number;
}

export interface DeadLetterPage {
  entries: DeadLetterEntry[];
  /** Pass back as `cursor` for the next page; absent on the last page. */
  nextCursor?: string;
}

const BATCH = 200;
export const MAX_PAGE = 500;

/*
 * appendReplay
 * KEYS[1]  the queue's DLQ entries hash
 * KEYS[2]  the queue's DLQ replays hash
 * ARGV[1]  entry id
 * ARGV[2]  replay record, JSON
 * ARGV[3]  '1' to append even when the entry was replayed before
 * Returns 1 when appended, 0 when the entry was replayed before (and ARGV[3]
 * is '0'), -1 when the entry does not exist. Atomic.
 */
const APPEND_REPLAY = `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return -1 end
local raw = redis.call('HGET', KEYS[2], ARGV[1])
local list = raw and cjson.decode(raw) or {}
if #list > 0 and ARGV[3] ~= '1' then return 0 end
table.insert(list, cjson.decode(ARGV[2]))
redis.call('HSET', KEYS[2], ARGV[1], cjson.encode(list))
return 1
`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    tmAppendReplay(entries: string, replays: string, id: string, record: string, again: string): Promise<number>;
  }
}

/**
 * The dead-letter queue: jobs that failed for good, per queue in Redis (a
 * sorted set by failure time and a hash of entries, under the queue's hash
 * tag). Listing walks the queues newest first and filters as it goes.
 */
export class DeadLetterQueue {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly queueNames: readonly string[],
  ) {
    if (typeof (redis as any).tmAppendReplay !== 'function') {
      redis.defineCommand('tmAppendReplay', { numberOfKeys: 2, lua: APPEND_REPLAY });
    }
  }

  /** One page of entries matching `filter`, newest first. */
  async list(filter: DeadLetterFilter, options: { cursor?: string; limit?: number } = {}): Promise<DeadLetterPage> {
    const limit = Math.min(Math.max(1, options.limit ?? 50), MAX_PAGE);
    const after = options.cursor ? decodeCursor(options.cursor) : undefined;

    const streams = this.queuesFor(filter).map((q) => this.scan(q, filter, after));
    const heads = await Promise.all(streams.map((s) => s.next()));
    const entries: DeadLetterEntry[] = [];
    let more = false;
    for (;;) {
      let best = -1;
      heads.forEach((h, i) => {
        if (h.done) return;
        if (best < 0 || newer(h.value, (heads[best] as IteratorYieldResult<DeadLetterEntry>).value)) best = i;
      });
      if (best < 0) break;
      if (entries.length === limit) {
        more = true;
        break;
      }
      entries.push((heads[best] as IteratorYieldResult<DeadLetterEntry>).value);
      heads[best] = await streams[best].next();
    }
    await Promise.all(streams.map((s) => s.return(undefined)));

    const last = entries.at(-1);
    return { entries, nextCursor: more && last ? encodeCursor(last) : undefined };
  }

  /** Every entry matching `filter`, in pages; for bulk replay and purge. */
  async *all(filter: DeadLetterFilter): AsyncGenerator<DeadLetterEntry> {
    let cursor: string | undefined;
    do {
      const page = await this.list(filter, { cursor, limit: BATCH });
      yield* page.entries;
      cursor = page.nextCursor;
    } while (cursor);
  }

  /** How many entries match `filter` (walks them; for progress bars). */
  async count(filter: DeadLetterFilter): Promise<number> {
    let n = 0;
    for await (const entry of this.all(filter)) if (entry) n++;
    return n;
  }

  /** One entry as shown: secret payload fields masked. */
  async get(id: string): Promise<DeadLetterEntry> {
    return masked(await this.stored(id));
  }

  /** One entry as stored, secret fields still encrypted: for replays. */
  async stored(id: string): Promise<DeadLetterEntry> {
    const queue = queueOfEntry(id);
    if (!queue || !this.queueNames.includes(queue)) throw new NotFoundError(`DLQ entry ${id} not found`);

    const k = storeKeys(this.keys, 'dlq', queue);
    const [raw, replays] = await Promise.all([this.redis.hget(k.entries, id), this.redis.hget(k.replays, id)]);
    if (!raw) throw new NotFoundError(`DLQ entry ${id} not found`);
    return withReplays(raw, replays);
  }

  /** The DLQ entry of a job's latest run, when it is in the DLQ. */
  async findByJob(queue: string, jobId: string): Promise<DeadLetterEntry | undefined> {
    const id = await this.redis.hget(this.keys.dlqByJob(queue), jobId);
    if (!id) return undefined;
    return this.get(id).catch((err) => {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    });
  }

  /**
   * Records a replay on an entry. Returns false, recording nothing, when the
   * entry was replayed before and `again` is not set.
   */
  async recordReplay(id: string, record: ReplayRecord, again: boolean): Promise<boolean> {
    const queue = queueOfEntry(id)!;
    const k = storeKeys(this.keys, 'dlq', queue);
    const result = await this.redis.tmAppendReplay(k.entries, k.replays, id, JSON.stringify(record), again ? '1' : '0');
    if (result === -1) throw new NotFoundError(`DLQ entry ${id} not found`);
    return result === 1;
  }

  async delete(id: string): Promise<void> {
    const entry = await this.get(id);
    await forgetEntries(this.redis, this.keys, 'dlq', entry.queue, [entry]);
  }

  /** Deletes every entry matching `filter`; returns how many. */
  async purge(filter: DeadLetterFilter, onProgress?: (done: number) => void): Promise<number> {
    let removed = 0;
    let batch: DeadLetterEntry[] = [];
    const flush = async () => {
      const byQueue = new Map<string, DeadLetterEntry[]>();
      for (const e of batch) byQueue.set(e.queue, [...(byQueue.get(e.queue) ?? []), e]);
      for (const [queue, entries] of byQueue) removed += await forgetEntries(this.redis, this.keys, 'dlq', queue, entries);
      batch = [];
      onProgress?.(removed);
    };
    // Collected first: deleting while paging would shift the pages.
    const all: DeadLetterEntry[] = [];
    for await (const entry of this.all(filter)) all.push(entry);
    for (const entry of all) {
      batch.push(entry);
      if (batch.length >= BATCH) await flush();
    }
    await flush();
    return removed;
  }

  /** Deletes entries that failed before `before` (ms) in every queue; returns how many. */
  async trim(before: number): Promise<number> {
    let removed = 0;
    for (const queue of this.queueNames) {
      const k = storeKeys(this.keys, 'dlq', queue);
      for (;;) {
        const ids = await this.redis.zrangebyscore(k.index, '-inf', `(${before}`, 'LIMIT', 0, BATCH);
        if (!ids.length) break;
        removed += await forgetEntries(this.redis, this.keys, 'dlq', queue, ids.map((id) => ({ id, jobId: jobOfEntry(id) })));
      }
    }
    return removed;
  }

  private queuesFor(filter: DeadLetterFilter): string[] {
    if (filter.queue === undefined) return [...this.queueNames];
    return this.queueNames.includes(filter.queue) ? [filter.queue] : [];
  }

  /** One queue's entries matching `filter`, newest first, after the cursor. */
  private async *scan(queue: string, filter: DeadLetterFilter, after?: Cursor): AsyncGenerator<DeadLetterEntry> {
    const k = storeKeys(this.keys, 'dlq', queue);
    const max = Math.min(after?.t ?? Infinity, filter.to ?? Infinity);
    const min = filter.from ?? -Infinity;
    for (let offset = 0; ; offset += BATCH) {
      const reply = await this.redis.zrevrangebyscore(k.index, bound(max), bound(min), 'WITHSCORES', 'LIMIT', offset, BATCH);
      if (!reply.length) return;

      const ids: string[] = [];
      const scores: number[] = [];
      for (let i = 0; i < reply.length; i += 2) {
        const score = Number(reply[i + 1]);
        if (after && score === after.t && reply[i] >= after.id) continue;
        ids.push(reply[i]);
        scores.push(score);
      }
      if (ids.length) {
        const [raws, replays] = await Promise.all([this.redis.hmget(k.entries, ...ids), this.redis.hmget(k.replays, ...ids)]);
        for (let i = 0; i < ids.length; i++) {
          if (!raws[i]) continue;
          const entry = masked(withReplays(raws[i]!, replays[i]));
          entry.endedAt = scores[i];
          if (matches(entry, filter)) yield entry;
        }
      }
      if (reply.length < BATCH * 2) return;
    }
  }
}

/** The queue of a DLQ entry id (`<queue>.<job>.<time>`). */
export function queueOfEntry(id: string): string | undefined {
  const dot = id.indexOf('.');
  return dot > 0 ? id.slice(0, dot) : undefined;
}

function jobOfEntry(id: string): string {
  return id.slice(0, id.lastIndexOf('.'));
}

function matches(entry: EndedJob, filter: DeadLetterFilter): boolean {
  if (filter.type !== undefined && entry.type !== filter.type) return false;
  if (filter.tenant !== undefined && entry.tenant !== filter.tenant) return false;
  if (filter.reason !== undefined && entry.reason !== filter.reason) return false;
  if (filter.error !== undefined && !(entry.error ?? '').toLowerCase().includes(filter.error.toLowerCase())) return false;
  return true;
}

function withReplays(raw: string, replays: string | null | undefined): DeadLetterEntry {
  let list: ReplayRecord[] = [];
  try {
    const parsed = replays ? JSON.parse(replays) : [];
    list = Array.isArray(parsed) ? parsed : [];
  } catch {
    // Unreadable replay history: the entry is still shown, without it.
  }
  return { ...(JSON.parse(raw) as EndedJob), replays: list };
}

function masked(entry: DeadLetterEntry): DeadLetterEntry {
  return entry.secretPaths?.length ? { ...entry, payload: maskPayload(entry.payload, entry.secretPaths) } : entry;
}

interface Cursor {
  t: number;
  id: string;
}

function newer(a: DeadLetterEntry, b: DeadLetterEntry): boolean {
  return a.endedAt > b.endedAt || (a.endedAt === b.endedAt && a.id > b.id);
}

function encodeCursor(entry: DeadLetterEntry): string {
  return Buffer.from(JSON.stringify({ t: entry.endedAt, id: entry.id })).toString('base64url');
}

function decodeCursor(cursor: string): Cursor {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (typeof value?.t === 'number' && typeof value?.id === 'string') return value;
  } catch {
    // Falls through to the validation error below.
  }
  throw new ValidationError('invalid cursor', [{ field: 'cursor', message: 'not a cursor this API returned' }]);
}

function bound(value: number): string {
  if (value === Infinity) return '+inf';
  if (value === -Infinity) return '-inf';
  return String(value);
}
