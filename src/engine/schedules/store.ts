import { createHash } from 'node:crypto';
import type { ScheduleSpec } from '../../core/index.ts';
import type { Keys, RedisClient } from '../../redis/index.ts';

/** Where a schedule came from; a configured one is written again at every start. */
export type ScheduleSource = 'config' | 'api';

/** What every process must agree on about a schedule besides its spec. */
export interface ScheduleMeta {
  /** Goes up by one each time the spec changes. */
  version: number;
  /** Content hash of the spec: an identical write changes nothing. */
  hash: string;
  /** Fixed-interval slots count from here; set when the spec last changed. */
  anchorMs: number;
  createdAt: number;
  updatedAt: number;
  source: ScheduleSource;
}

/** What a schedule has run. Replaced whole, compare-and-set, by whichever process ticks. */
export interface ScheduleState {
  /** The spec version this state belongs to. */
  version: number;
  /** Every slot at or before this time has been decided (run, skipped or queued). */
  handledUntil: number;
  /** Slots claimed for running whose jobs may not be stored yet, and when they were claimed. */
  pending?: { slots: number[]; at: number };
  /** One slot waiting for the previous job to finish (overlap `queue`). */
  queuedSlot?: number;
  /** Slots that run one after another, oldest first, each once the previous job has finished. */
  backlog?: number[];
  lastSlot?: number;
  lastJobId?: string;
  lastError?: string;
  runs: number;
  skippedSlots: number;
}

export interface StoredSchedule {
  name: string;
  spec: ScheduleSpec;
  meta: ScheduleMeta;
  /** The state exactly as stored: the compare-and-set token. */
  rawState: string | null;
  state: ScheduleState | undefined;
}

/**
 * Writes a schedule's spec unless an identical one is stored.
 * KEYS[1] specs hash, KEYS[2] meta hash, KEYS[3] state hash (one hash tag)
 * ARGV[1] name, ARGV[2] spec JSON, ARGV[3] spec hash, ARGV[4] now (ms), ARGV[5] source
 * Returns {changed (0|1), version}. A changed spec gets a new version and a
 * fresh state, so nothing of the old pattern survives. The three writes are
 * one script: a process dying half way leaves either the old or the new.
 */
const UPSERT_SCRIPT = `
local raw = redis.call('HGET', KEYS[2], ARGV[1])
local now = tonumber(ARGV[4])
local version, createdAt = 1, now
if raw then
  local meta = cjson.decode(raw)
  if meta.hash == ARGV[3] then return {0, meta.version} end
  version = meta.version + 1
  createdAt = meta.createdAt
end
local meta = cjson.encode({version = version, hash = ARGV[3], anchorMs = now,
  createdAt = createdAt, updatedAt = now, source = ARGV[5]})
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], meta)
redis.call('HSET', KEYS[3], ARGV[1], cjson.encode({version = version, handledUntil = now, runs = 0, skippedSlots = 0}))
return {1, version}
`;

/**
 * Replaces a schedule's state only if it is still what the caller read.
 * KEYS[1] state hash; ARGV[1] name, ARGV[2] expected raw state ('' for none), ARGV[3] new raw state
 * Returns 1 when written, 0 when another process got there first. One command: nothing half done.
 */
const CAS_SCRIPT = `
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current == false then current = '' end
if current ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
`;

/** The schedules in Redis: one entry per name, shared by every process. */
export class ScheduleStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
  ) {}

  /** Stores `spec` under `name`; an identical spec already stored changes nothing. */
  async upsert(name: string, spec: ScheduleSpec, source: ScheduleSource, now: number): Promise<{ changed: boolean; version: number }> {
    const json = JSON.stringify(spec);
    const hash = createHash('sha256').update(json).digest('hex').slice(0, 24);
    const [changed, version] = (await this.redis.eval(
      UPSERT_SCRIPT,
      3,
      this.keys.schedules('specs'),
      this.keys.schedules('meta'),
      this.keys.schedules('state'),
      name,
      json,
      hash,
      String(now),
      source,
    )) as [number, number];
    return { changed: changed === 1, version };
  }

  /** Removes a schedule; true when there was one. */
  async remove(name: string): Promise<boolean> {
    const replies = await this.redis
      .multi()
      .hdel(this.keys.schedules('specs'), name)
      .hdel(this.keys.schedules('meta'), name)
      .hdel(this.keys.schedules('state'), name)
      .exec();
    return Number(replies?.[0]?.[1] ?? 0) > 0;
  }

  async get(name: string): Promise<StoredSchedule | undefined> {
    const [spec, meta, state] = await Promise.all([
      this.redis.hget(this.keys.schedules('specs'), name),
      this.redis.hget(this.keys.schedules('meta'), name),
      this.redis.hget(this.keys.schedules('state'), name),
    ]);
    return spec && meta ? toStored(name, spec, meta, state) : undefined;
  }

  /** Every schedule, sorted by name. */
  async list(): Promise<StoredSchedule[]> {
    const [specs, metas, states] = await Promise.all([
      this.redis.hgetall(this.keys.schedules('specs')),
      this.redis.hgetall(this.keys.schedules('meta')),
      this.redis.hgetall(this.keys.schedules('state')),
    ]);
    return Object.keys(specs)
      .filter((name) => metas[name])
      .sort()
      .map((name) => toStored(name, specs[name], metas[name], states[name] ?? null));
  }

  /** Replaces the state if it is still `expected`; false when another process changed it. */
  async compareAndSet(name: string, expected: string | null, next: ScheduleState): Promise<{ ok: boolean; raw: string }> {
    const raw = JSON.stringify(next);
    const ok = await this.redis.eval(CAS_SCRIPT, 1, this.keys.schedules('state'), name, expected ?? '', raw);
    return { ok: ok === 1, raw };
  }
}

function toStored(name: string, spec: string, meta: string, state: string | null): StoredSchedule {
  return {
    name,
    spec: JSON.parse(spec),
    meta: JSON.parse(meta),
    rawState: state,
    state: state ? JSON.parse(state) : undefined,
  };
}
