import type { AttemptRecord, BackoffPolicy } from '../core/index.ts';
import type { Keys, RedisClient } from '../redis/index.ts';
import { ATTEMPTS_FIELD, parseAttempts } from './attempts.ts';
import { parseHistory, type HistoryEntry } from './browse/history.ts';
import type { PayloadPath } from './secrets.ts';

/** The hash field set on a job when someone asked to cancel it (JSON: at, by). */
export const CANCEL_FIELD = 'tm_cancel';

/**
 * A job that ended for good outside BullMQ's completed set: in the DLQ, or
 * cancelled. Everything needed to understand and replay it is copied here,
 * because the BullMQ job itself is removed.
 */
export interface EndedJob {
  /** DLQ: `<jobId>.<creation time base 36>`, unique per job run; cancelled: the job id. */
  id: string;
  jobId: string;
  type: string;
  queue: string;
  payload: unknown;
  /** The stored data as found, when it was not JSON at all. */
  rawData?: string;
  /**
   * Payload fields stored encrypted (`secret()`): masked whenever the entry
   * is shown, opened again by a replay.
   */
  secretPaths?: PayloadPath[];
  priority?: string;
  tenant?: string;
  idempotencyKey?: string;
  retries: number;
  timeoutMs?: number;
  backoff?: BackoffPolicy;
  submittedBy?: string;
  replayOf?: string;
  /** `invalid_payload`, a `PermanentError` reason, `retries_exhausted`, `cancelled`, ... */
  reason: string;
  /** The last error message. */
  error?: string;
  attempts: AttemptRecord[];
  /** The job's history list as it ended: actions and moves besides its attempts. */
  history?: HistoryEntry[];
  /** For a job in a flow: its parent's job id. */
  parentId?: string;
  /** For a flow parent: its children's job keys (`<prefix>:{<queue>}:<id>`) as it ended. */
  children?: string[];
  createdAt: number;
  endedAt: number;
}

/*
 * settleJob
 * KEYS[1]  the queue's BullMQ failed set (sorted set), or '' to skip the check
 * KEYS[2]  target sorted set (DLQ or cancelled), entry id by end time
 * KEYS[3]  target hash, entry id -> entry JSON
 * KEYS[4]  by-job hash, job id -> entry id (the DLQ's; KEYS[3] again when unused)
 * ARGV[1]  job id
 * ARGV[2]  entry id
 * ARGV[3]  entry JSON
 * ARGV[4]  end time, ms
 * ARGV[5]  '1' to overwrite an existing entry, '0' to keep it
 * Returns 1 when written, 0 when the job is not in the failed set.
 *
 * All keys share the queue's hash tag. The caller removes the BullMQ job
 * afterwards; if it dies in between, the job is found in the failed set
 * again by the next sweep, this script writes nothing new (same entry id)
 * and the removal is done then: a job is never lost, at worst briefly in
 * two places.
 */
const SETTLE_JOB = `
if KEYS[1] ~= '' and not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
if ARGV[5] == '1' then
  redis.call('HSET', KEYS[3], ARGV[2], ARGV[3])
else
  redis.call('HSETNX', KEYS[3], ARGV[2], ARGV[3])
end
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[2])
if KEYS[4] ~= KEYS[3] then redis.call('HSET', KEYS[4], ARGV[1], ARGV[2]) end
return 1
`;

/*
 * forgetEntries
 * KEYS[1]  target sorted set   KEYS[2]  target hash
 * KEYS[3]  replays hash (or KEYS[2] again)   KEYS[4]  by-job hash (or KEYS[2] again)
 * ARGV     pairs of entry id, job id
 * Removes each entry everywhere; the by-job link only while it still points
 * at that entry. Returns how many entries existed. Atomic.
 */
const FORGET_ENTRIES = `
local removed = 0
for i = 1, #ARGV, 2 do
  local id, jobId = ARGV[i], ARGV[i + 1]
  removed = removed + redis.call('HDEL', KEYS[2], id)
  redis.call('ZREM', KEYS[1], id)
  if KEYS[3] ~= KEYS[2] then redis.call('HDEL', KEYS[3], id) end
  if KEYS[4] ~= KEYS[2] and redis.call('HGET', KEYS[4], jobId) == id then redis.call('HDEL', KEYS[4], jobId) end
end
return removed
`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    tmSettleJob(k1: string, k2: string, k3: string, k4: string, ...args: string[]): Promise<number>;
    tmForgetEntries(k1: string, k2: string, k3: string, k4: string, ...args: string[]): Promise<number>;
  }
}

export function defineFinalStateCommands(redis: RedisClient): void {
  if (typeof (redis as any).tmSettleJob === 'function') return;
  redis.defineCommand('tmSettleJob', { numberOfKeys: 4, lua: SETTLE_JOB });
  redis.defineCommand('tmForgetEntries', { numberOfKeys: 4, lua: FORGET_ENTRIES });
}

/** Which of the two stores: the DLQ, or cancelled jobs. */
export type EndedKind = 'dlq' | 'cancelled';

/** The keys of one store of one queue, in the order the scripts take them. */
export function storeKeys(keys: Keys, kind: EndedKind, queue: string) {
  if (kind === 'dlq') {
    return { index: keys.dlq(queue), entries: keys.dlqEntries(queue), replays: keys.dlqReplays(queue), byJob: keys.dlqByJob(queue) };
  }
  const entries = keys.cancelledEntries(queue);
  return { index: keys.cancelled(queue), entries, replays: entries, byJob: entries };
}

/** Writes an entry (see `settleJob`); `onlyIfFailed` checks the job is in BullMQ's failed set. */
export async function writeEntry(
  redis: RedisClient,
  keys: Keys,
  kind: EndedKind,
  entry: EndedJob,
  options: { onlyIfFailed: boolean; overwrite: boolean },
): Promise<boolean> {
  const k = storeKeys(keys, kind, entry.queue);
  const failedSet = options.onlyIfFailed ? keys.bullKey(entry.queue, 'failed') : '';
  const written = await redis.tmSettleJob(
    failedSet,
    k.index,
    k.entries,
    k.byJob,
    entry.jobId,
    entry.id,
    JSON.stringify(entry),
    String(entry.endedAt),
    options.overwrite ? '1' : '0',
  );
  return written === 1;
}

/** Removes entries of one queue's store; returns how many existed. */
export async function forgetEntries(
  redis: RedisClient,
  keys: Keys,
  kind: EndedKind,
  queue: string,
  entries: { id: string; jobId: string }[],
): Promise<number> {
  if (!entries.length) return 0;
  const k = storeKeys(keys, kind, queue);
  const args = entries.flatMap((e) => [e.id, e.jobId]);
  return redis.tmForgetEntries(k.index, k.entries, k.replays, k.byJob, ...args);
}

/**
 * Builds the record of a job from its raw BullMQ hash. Never throws on bad
 * data: a job whose data is not JSON keeps it as `rawData`, so such a job
 * can still be listed, shown and cleaned.
 */
export function endedJobFrom(
  hash: Record<string, string>,
  about: { id: string; jobId: string; queue: string; reason: string; endedAt: number; history?: HistoryEntry[]; children?: string[] },
): EndedJob {
  let data: Record<string, any> = {};
  let rawData: string | undefined;
  try {
    const parsed = JSON.parse(hash.data ?? '{}');
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) data = parsed;
    else rawData = hash.data;
  } catch {
    rawData = hash.data;
  }
  let opts: Record<string, any> = {};
  try {
    opts = JSON.parse(hash.opts ?? '{}') ?? {};
  } catch {
    // Unreadable options: the record falls back to defaults for retries.
  }

  const attempts = parseAttempts(hash[ATTEMPTS_FIELD]);
  return {
    id: about.id,
    jobId: about.jobId,
    type: hash.name ?? 'unknown',
    queue: about.queue,
    payload: data.payload,
    ...(rawData !== undefined ? { rawData } : {}),
    secretPaths: Array.isArray(data.secretPaths) && data.secretPaths.length ? data.secretPaths : undefined,
    priority: typeof data.priority === 'string' ? data.priority : undefined,
    tenant: typeof data.tenant === 'string' ? data.tenant : undefined,
    idempotencyKey: typeof data.idempotencyKey === 'string' ? data.idempotencyKey : undefined,
    retries: Math.max(0, Number(opts.attempts ?? 1) - 1),
    timeoutMs: typeof data.timeoutMs === 'number' ? data.timeoutMs : undefined,
    backoff: data.backoff,
    submittedBy: typeof data.submittedBy === 'string' ? data.submittedBy : undefined,
    replayOf: typeof data.replayOf === 'string' ? data.replayOf : undefined,
    reason: about.reason,
    error: hash.failedReason || attempts.at(-1)?.error?.message,
    attempts,
    history: about.history?.length ? about.history : undefined,
    parentId: parentIdOf(hash.parent),
    children: about.children?.length ? about.children : undefined,
    createdAt: Number(hash.timestamp) || 0,
    endedAt: about.endedAt,
  };
}

/** A job's history list, read before the job leaves BullMQ (which deletes it with the job). */
export async function readJobHistory(redis: RedisClient, keys: Keys, queue: string, jobId: string): Promise<HistoryEntry[]> {
  return parseHistory(await redis.lrange(keys.jobHistory(queue, jobId), 0, -1));
}

function parentIdOf(rawParent: string | undefined): string | undefined {
  try {
    const id = rawParent ? JSON.parse(rawParent)?.id : undefined;
    return typeof id === 'string' ? id : undefined;
  } catch {
    // Unreadable parent link: the entry is kept without it.
    return undefined;
  }
}

/** The DLQ entry id of one run of a job: stable, so a repeated move writes the same entry. */
export function dlqEntryId(jobId: string, createdAt: number): string {
  return `${jobId}.${createdAt.toString(36)}`;
}

/** Why a job ended in the DLQ, from its last attempt. */
export function deadLetterReason(attempts: AttemptRecord[], retries: number): string {
  const last = attempts.at(-1);
  if (!last) return 'failed';
  if (last.error?.reason) return last.error.reason;
  return attempts.filter((a) => a.outcome === 'failed').length > retries ? 'retries_exhausted' : 'failed';
}
