import type { Keys, RedisClient } from '../../redis/index.ts';

/** Something that happened to a job besides its attempts, as stored in its history. */
export interface HistoryEntry {
  /** ms since the epoch. */
  at: number;
  /** `priority.changed`, `retried`, `cancelled`, `dead-lettered`, `replayed`, `promoted`, ... */
  kind: string;
  /** The API key (or `cli`, or `engine`) that did it. */
  by?: string;
  /** A short human reading of what happened. */
  message?: string;
  details?: Record<string, unknown>;
}

/** Entries kept per job; the oldest go first. */
const MAX_ENTRIES = 200;

/*
 * appendHistory
 * KEYS[1]  the job's BullMQ hash
 * KEYS[2]  the job's history list (BullMQ's `<job>:logs`, same hash tag)
 * ARGV[1]  the entry, JSON
 * ARGV[2]  entries to keep
 * Returns 1 when appended, 0 when the job no longer exists.
 *
 * Writing only while the job exists keeps a removed job from leaving an
 * orphan list behind; BullMQ deletes `<job>:logs` whenever it removes the
 * job, so retention removes the history with it. Atomic: a crash leaves the
 * list with or without the entry.
 */
const APPEND_HISTORY = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[2]), -1)
return 1
`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    tmAppendHistory(jobKey: string, historyKey: string, entry: string, keep: number): Promise<number>;
  }
}

/**
 * The history of each job that its hash does not already tell (attempts are
 * kept on the job itself): actions taken on it and where the engine moved it.
 */
export class JobHistory {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
  ) {
    if (typeof (redis as any).tmAppendHistory !== 'function') {
      redis.defineCommand('tmAppendHistory', { numberOfKeys: 2, lua: APPEND_HISTORY });
    }
  }

  /** Adds an entry; false when the job no longer exists. */
  async append(queue: string, jobId: string, entry: HistoryEntry): Promise<boolean> {
    const added = await this.redis.tmAppendHistory(
      this.keys.job(queue, jobId),
      this.keys.jobHistory(queue, jobId),
      JSON.stringify(entry),
      MAX_ENTRIES,
    );
    return added === 1;
  }

  /**
   * A job's history; for a job that ended in the DLQ or cancelled (and so
   * left BullMQ), the history its entry carried away.
   */
  async read(queue: string, jobId: string): Promise<HistoryEntry[]> {
    const raw = await this.redis.lrange(this.keys.jobHistory(queue, jobId), 0, -1);
    if (raw.length || (await this.redis.exists(this.keys.job(queue, jobId)))) return parseHistory(raw);
    return (await this.endedHistory(queue, jobId)) ?? [];
  }

  private async endedHistory(queue: string, jobId: string): Promise<HistoryEntry[] | undefined> {
    const entryId = await this.redis.hget(this.keys.dlqByJob(queue), jobId);
    const raw =
      (entryId ? await this.redis.hget(this.keys.dlqEntries(queue), entryId) : null) ??
      (await this.redis.hget(this.keys.cancelledEntries(queue), jobId));
    try {
      const history = raw ? JSON.parse(raw).history : undefined;
      return Array.isArray(history) ? history : undefined;
    } catch {
      // An unreadable entry has no history to show; the job itself says why.
      return undefined;
    }
  }
}

/** History entries from the lines of a job's list, skipping lines that are not ours. */
export function parseHistory(lines: string[]): HistoryEntry[] {
  return lines.flatMap((line) => {
    try {
      const entry = JSON.parse(line);
      return entry && typeof entry.at === 'number' && typeof entry.kind === 'string' ? [entry as HistoryEntry] : [];
    } catch {
      // A plain BullMQ log line written by someone else: not a history entry.
      return [];
    }
  });
}
