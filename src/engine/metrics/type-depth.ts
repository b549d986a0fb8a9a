import type { Keys, RedisClient } from '../../redis/index.ts';
import { UnavailableError } from '../errors.ts';

/** How many jobs of one job type are in each state of a queue. */
export interface TypeDepth {
  waiting: number;
  delayed: number;
  active: number;
  /** Entries in the DLQ. */
  dlq: number;
}

/** The depth of one queue per job type, and whether any figure is an estimate. */
export interface QueueTypeDepths {
  /** Job type to its depth; types with no job in these states are absent. */
  types: Record<string, TypeDepth>;
  /**
   * States whose figures were scaled up from a sample because the state
   * holds more than `SAMPLE_SIZE` jobs; empty when every figure is exact.
   */
  estimated: (keyof TypeDepth)[];
  /** When the figures were read, ms since the epoch. */
  readAt: number;
}

/**
 * Jobs read per state at most. Up to this many, every job is counted; above
 * it a sample this big is scaled to the state's exact total, which keeps a
 * type's share within about 3 percentage points (95 % of the time).
 */
export const SAMPLE_SIZE = 1000;
/** Separate slices a sample of a list is read in, so bursts of one type do not skew it. */
const LIST_SLICES = 10;
/** Figures are reused this long, so live views polling every second cost one read. */
const REUSE_MS = 2000;

type Source = { state: keyof TypeDepth; key: string; kind: 'list' | 'zset'; ids: 'job' | 'dlq' };

/**
 * Depth per job type: BullMQ keeps job ids per state without their type, so
 * counting by type means reading each job's name. To stay cheap at any size
 * this reads at most `SAMPLE_SIZE` ids per state (a random sample above
 * that, scaled to the state's exact count) and reuses the figures for two
 * seconds. No counter is kept in the hot path, so nothing can drift.
 */
export class TypeDepthReader {
  private readonly cache = new Map<string, Promise<QueueTypeDepths>>();

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
  ) {}

  /** The per-type depth of each queue in `names`. */
  async read(names: readonly string[]): Promise<Record<string, QueueTypeDepths>> {
    const results = await Promise.all(names.map((name) => this.queue(name)));
    return Object.fromEntries(names.map((name, i) => [name, results[i]]));
  }

  private queue(name: string): Promise<QueueTypeDepths> {
    const cached = this.cache.get(name);
    if (cached) return cached;

    // One read in flight per queue; callers meanwhile share it.
    const reading = this.count(name).catch((err: Error) => {
      this.cache.delete(name);
      throw new UnavailableError(`Redis cannot count jobs by type: ${err.message}`, { cause: err });
    });
    this.cache.set(name, reading);
    setTimeout(() => this.cache.get(name) === reading && this.cache.delete(name), REUSE_MS).unref();
    return reading;
  }

  private async count(queue: string): Promise<QueueTypeDepths> {
    const k = this.keys;
    const sources: Source[] = [
      { state: 'waiting', key: k.bullKey(queue, 'wait'), kind: 'list', ids: 'job' },
      { state: 'waiting', key: k.bullKey(queue, 'prioritized'), kind: 'zset', ids: 'job' },
      { state: 'waiting', key: k.bullKey(queue, 'waiting-children'), kind: 'zset', ids: 'job' },
      { state: 'delayed', key: k.bullKey(queue, 'delayed'), kind: 'zset', ids: 'job' },
      { state: 'active', key: k.bullKey(queue, 'active'), kind: 'list', ids: 'job' },
      { state: 'dlq', key: k.dlq(queue), kind: 'zset', ids: 'dlq' },
    ];
    const types: Record<string, TypeDepth> = {};
    const estimated = new Set<keyof TypeDepth>();

    const counted = await Promise.all(sources.map((source) => this.countSource(queue, source)));
    counted.forEach(({ byType, exact }, i) => {
      const state = sources[i].state;
      if (!exact) estimated.add(state);
      for (const [type, n] of byType) {
        types[type] ??= { waiting: 0, delayed: 0, active: 0, dlq: 0 };
        types[type][state] += n;
      }
    });
    return { types, estimated: [...estimated], readAt: Date.now() };
  }

  /** Jobs per type in one list or sorted set: exact when small, scaled from a sample when not. */
  private async countSource(queue: string, source: Source): Promise<{ byType: Map<string, number>; exact: boolean }> {
    const total = source.kind === 'list' ? await this.redis.llen(source.key) : await this.redis.zcard(source.key);
    if (total === 0) return { byType: new Map(), exact: true };

    // 1. The ids: all of them, or a sample.
    const exact = total <= SAMPLE_SIZE;
    const ids = exact ? await this.allIds(source) : await this.sampleIds(source, total);

    // 2. Their types, in one round trip (every key shares the queue's hash tag).
    const sampled = new Map<string, number>();
    for (const type of await this.typesOf(queue, source, ids)) {
      if (type !== undefined) sampled.set(type, (sampled.get(type) ?? 0) + 1);
    }
    if (exact) return { byType: sampled, exact };

    // 3. Scaled to the exact total.
    return { byType: scaleTo(sampled, total), exact };
  }

  private allIds(source: Source): Promise<string[]> {
    return source.kind === 'list' ? this.redis.lrange(source.key, 0, -1) : this.redis.zrange(source.key, 0, -1);
  }

  private async sampleIds(source: Source, total: number): Promise<string[]> {
    if (source.kind === 'zset') return (await this.redis.zrandmember(source.key, SAMPLE_SIZE)) as string[];

    // A list has no random read: evenly spaced slices across its length.
    const slice = Math.ceil(SAMPLE_SIZE / LIST_SLICES);
    const step = Math.floor(total / LIST_SLICES);
    const pipeline = this.redis.pipeline();
    for (let i = 0; i < LIST_SLICES; i++) pipeline.lrange(source.key, i * step, i * step + slice - 1);
    const replies = (await pipeline.exec()) ?? [];
    return replies.flatMap(([err, ids]) => {
      if (err) throw err;
      return ids as string[];
    });
  }

  private async typesOf(queue: string, source: Source, ids: string[]): Promise<(string | undefined)[]> {
    if (!ids.length) return [];
    if (source.ids === 'dlq') {
      const entries = await this.redis.hmget(this.keys.dlqEntries(queue), ...ids);
      return entries.map((raw) => (raw ? entryType(raw) : undefined));
    }
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hget(this.keys.job(queue, id), 'name');
    const replies = (await pipeline.exec()) ?? [];
    return replies.map(([err, name]) => {
      if (err) throw err;
      // A marker or a job removed since its id was read: not counted.
      return typeof name === 'string' ? name : undefined;
    });
  }
}

/**
 * Counts from a sample scaled so they add up to `total` exactly (largest
 * remainders get the rounding), so per-type figures match the queue's depth.
 */
export function scaleTo(sample: Map<string, number>, total: number): Map<string, number> {
  const size = [...sample.values()].reduce((a, b) => a + b, 0);
  if (size === 0) return new Map();
  const shares = [...sample].map(([type, n]) => ({ type, exact: (n * total) / size }));
  const out = new Map(shares.map((s) => [s.type, Math.floor(s.exact)]));
  let left = total - [...out.values()].reduce((a, b) => a + b, 0);
  for (const s of shares.sort((a, b) => (b.exact % 1) - (a.exact % 1))) {
    if (left-- <= 0) break;
    out.set(s.type, out.get(s.type)! + 1);
  }
  return out;
}

/** The job type of a DLQ entry's JSON, without trusting its shape. */
function entryType(raw: string): string | undefined {
  try {
    const type = (JSON.parse(raw) as { type?: unknown }).type;
    return typeof type === 'string' ? type : undefined;
  } catch {
    // A damaged entry: the DLQ's own listing reports it; here it is not counted.
    return undefined;
  }
}
