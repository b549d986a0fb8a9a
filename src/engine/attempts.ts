import type { RedisClient } from '../redis/index.ts';
import type { AttemptRecord } from '../core/index.ts';

/** The hash field of a BullMQ job hash where TaskMaster keeps its attempts. */
export const ATTEMPTS_FIELD = 'tm_attempts';

/**
 * The hash field naming the attempt running now (JSON: attempt, startedAt,
 * worker, plugin). Set when an attempt starts and cleared when it is
 * recorded: finding it set when a job is picked up means the worker that ran
 * the previous attempt stopped before finishing it.
 */
export const RUNNING_FIELD = 'tm_running';

/** The attempt that a worker started; kept on the job while it runs. */
export interface RunningAttempt {
  attempt: number;
  startedAt: number;
  worker: string;
  plugin: string;
  pluginVersion: string;
  pluginHash: string;
}

/*
 * appendAttempt
 * KEYS[1]  the job's BullMQ hash
 * ARGV[1]  hash field holding the attempts: JSON records joined by commas
 * ARGV[2]  the attempt record, JSON
 * ARGV[3]  hash field of the running attempt, cleared
 * Returns 1 when appended (or already there), 0 when the job no longer exists.
 *
 * The attempts live inside the job's own hash so that BullMQ's retention
 * removes them with the job. Writing only while the hash exists keeps a job
 * removed mid-run (cancelled, cleaned) from coming back as an orphan key.
 * Records are joined as text, not decoded, to keep the script cheap on the
 * hot path. Atomic: a process dying half way leaves the old or the new list.
 * Idempotent: a record already in the list (the same text, its end time in
 * ms included) is not added again, so a connection that sends the script a
 * second time after Redis came back (its first reply was lost) records the
 * attempt once.
 */
const APPEND_ATTEMPT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if raw and string.find(raw, ARGV[2], 1, true) then
  redis.call('HDEL', KEYS[1], ARGV[3])
  return 1
end
redis.call('HSET', KEYS[1], ARGV[1], raw and (raw .. ',' .. ARGV[2]) or ARGV[2])
redis.call('HDEL', KEYS[1], ARGV[3])
return 1
`;

/*
 * beginAttempt
 * KEYS[1]  the job's BullMQ hash
 * ARGV[1]  hash field of the running attempt
 * ARGV[2]  this attempt, JSON
 * ARGV[3]  hash field set when the job was cancelled
 * Returns the running attempt left by an earlier worker (and leaves it in
 * place, to be recorded as lost); else 'cancelled' when the job was
 * cancelled; else '' after marking this one running; false when the job no
 * longer exists. One command: nothing half done.
 */
const BEGIN_ATTEMPT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local previous = redis.call('HGET', KEYS[1], ARGV[1])
if previous then return previous end
if redis.call('HEXISTS', KEYS[1], ARGV[3]) == 1 then return 'cancelled' end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return ''
`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    tmAppendAttempt(key: string, field: string, record: string, runningField: string): Promise<number>;
    tmBeginAttempt(key: string, field: string, running: string, cancelField: string): Promise<string | null>;
  }
}

export function defineAttemptCommands(redis: RedisClient): void {
  if (typeof (redis as any).tmAppendAttempt === 'function') return;
  redis.defineCommand('tmAppendAttempt', { numberOfKeys: 1, lua: APPEND_ATTEMPT });
  redis.defineCommand('tmBeginAttempt', { numberOfKeys: 1, lua: BEGIN_ATTEMPT });
}

/** Records a finished attempt on the job and clears its running mark. */
export async function appendAttempt(redis: RedisClient, jobKey: string, record: AttemptRecord): Promise<void> {
  await redis.tmAppendAttempt(jobKey, ATTEMPTS_FIELD, JSON.stringify(record), RUNNING_FIELD);
}

/** What `beginAttempt` found: nothing in the way, a lost earlier attempt, or a cancel. */
export type BeginOutcome = { lost?: RunningAttempt; cancelled?: boolean };

/**
 * Marks an attempt as running, unless an earlier worker left one running
 * (it stopped mid-job: returned as `lost`) or the job was cancelled
 * (`cancelled`, the field named by `cancelField`); then nothing is marked.
 */
export async function beginAttempt(redis: RedisClient, jobKey: string, running: RunningAttempt, cancelField: string): Promise<BeginOutcome> {
  const previous = await redis.tmBeginAttempt(jobKey, RUNNING_FIELD, JSON.stringify(running), cancelField);
  if (previous === 'cancelled') return { cancelled: true };
  if (!previous) return {};
  return { lost: readRunning(previous, running) };
}

function readRunning(previous: string, running: RunningAttempt): RunningAttempt {
  try {
    return JSON.parse(previous) as RunningAttempt;
  } catch {
    // A mark we cannot read still says a run was lost; its details are unknown.
    return { attempt: running.attempt, startedAt: 0, worker: 'unknown', plugin: running.plugin, pluginVersion: '', pluginHash: '' };
  }
}

export function parseAttempts(raw: string | null | undefined): AttemptRecord[] {
  if (!raw) return [];
  try {
    return JSON.parse(`[${raw}]`);
  } catch {
    // A damaged field must not break reading the job; it shows no attempts.
    return [];
  }
}
