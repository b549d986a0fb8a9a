import { USER_ID } from '../core/index.ts';
import type { Keys, RedisClient } from '../redis/index.ts';
import type { InAppNotification, NotificationStore } from '../sdk/types.ts';
import { ValidationError } from './errors.ts';

/*
 * inboxPush
 * KEYS[1] items (hash id -> JSON)   KEYS[2] order (zset id by time)   KEYS[3] read (set of ids)
 * ARGV[1] id   ARGV[2] JSON   ARGV[3] createdAt (ms)   ARGV[4] most notifications kept
 * Returns 1 when stored, 0 when the id was already there (nothing changes).
 *
 * Stores a notification and drops the oldest beyond the cap from all three
 * keys. Atomic: a process dying half way leaves the inbox as before or after.
 */
const PUSH = `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], tonumber(ARGV[3]), ARGV[1])
local excess = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[4])
if excess > 0 then
  local old = redis.call('ZRANGE', KEYS[2], 0, excess - 1)
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, excess - 1)
  for i = 1, #old do
    redis.call('HDEL', KEYS[1], old[i])
    redis.call('SREM', KEYS[3], old[i])
  end
end
return 1
`;

/*
 * inboxMarkRead
 * KEYS[1] items   KEYS[3] read      (KEYS[2] order, unused, keeps the key list uniform)
 * ARGV    ids to mark read, or the single argument '*' for all
 * Returns how many notifications went from unread to read.
 *
 * Only ids still in the inbox are added, so `read` never outgrows `items`.
 * Atomic, so a crash marks all or none.
 */
const MARK_READ = `
local ids = ARGV
if #ARGV == 1 and ARGV[1] == '*' then ids = redis.call('HKEYS', KEYS[1]) end
local marked = 0
for i = 1, #ids do
  if redis.call('HEXISTS', KEYS[1], ids[i]) == 1 then
    marked = marked + redis.call('SADD', KEYS[3], ids[i])
  end
end
return marked
`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    tmInboxPush(items: string, order: string, read: string, id: string, json: string, at: number, limit: number): Promise<number>;
    tmInboxMarkRead(items: string, order: string, read: string, ...ids: string[]): Promise<number>;
  }
}

/** A page of one user's notifications, newest first. */
export interface InboxPage {
  notifications: InAppNotification[];
  unread: number;
}

/**
 * Per-user in-app notifications in RedisClient, newest first, capped at
 * `perUserLimit`. New ones are announced on a pub/sub channel so any API
 * process can stream them.
 */
export class Inbox implements NotificationStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly perUserLimit: number,
  ) {
    if (typeof (redis as any).tmInboxPush !== 'function') {
      redis.defineCommand('tmInboxPush', { numberOfKeys: 3, lua: PUSH });
      redis.defineCommand('tmInboxMarkRead', { numberOfKeys: 3, lua: MARK_READ });
    }
  }

  async push(
    userId: string,
    input: Omit<InAppNotification, 'userId' | 'createdAt' | 'read'>,
  ): Promise<{ notification: InAppNotification; stored: boolean }> {
    checkUserId(userId);
    const notification: InAppNotification = { ...input, userId, createdAt: Date.now(), read: false };
    const k = this.keys.inbox(userId);

    const json = JSON.stringify(notification);
    const stored = await this.redis.tmInboxPush(k.items, k.order, k.read, input.id, json, notification.createdAt, this.perUserLimit);
    if (stored) await this.redis.publish(this.keys.inboxChannel(userId), json);
    return { notification, stored: stored === 1 };
  }

  /** A user's notifications, newest first; `unreadOnly` skips read ones. */
  async list(userId: string, options: { limit: number; unreadOnly?: boolean }): Promise<InboxPage> {
    checkUserId(userId);
    const k = this.keys.inbox(userId);

    const ids = await this.redis.zrevrange(k.order, 0, -1);
    if (!ids.length) return { notifications: [], unread: 0 };
    const [raw, readFlags] = await Promise.all([this.redis.hmget(k.items, ...ids), this.redis.smismember(k.read, ...ids)]);

    const all = ids.flatMap((_, i) => {
      if (!raw[i]) return [];
      return [{ ...(JSON.parse(raw[i]!) as InAppNotification), read: readFlags[i] === 1 }];
    });
    const unread = all.filter((n) => !n.read);
    const shown = options.unreadOnly ? unread : all;
    return { notifications: shown.slice(0, options.limit), unread: unread.length };
  }

  /** Marks the given notifications read, or all of them with `'all'`; returns how many changed. */
  async markRead(userId: string, ids: string[] | 'all'): Promise<number> {
    checkUserId(userId);
    const k = this.keys.inbox(userId);

    const args = ids === 'all' ? ['*'] : ids;
    if (!args.length) return 0;
    return this.redis.tmInboxMarkRead(k.items, k.order, k.read, ...args);
  }
}

function checkUserId(userId: string): void {
  if (!USER_ID.test(userId)) {
    throw new ValidationError('invalid user id', [{ field: 'userId', message: `must match ${USER_ID.source}` }]);
  }
}
