import { createRedis, type Keys, type RedisClient } from '../redis/index.ts';
import type { InAppNotification } from '../sdk/types.ts';
import type { Logger } from './logger.ts';

type Listener = (notification: InAppNotification) => void;

/**
 * Live in-app notifications for streams (SSE). One RedisClient subscriber
 * connection per process, opened on first use, serves every listener; a
 * channel is subscribed while at least one listener wants it.
 */
export class InboxFeed {
  private subscriber: RedisClient | undefined;
  private readonly listeners = new Map<string, Set<Listener>>();

  constructor(
    private readonly redisUrl: string,
    private readonly keys: Keys,
    private readonly log: Logger,
  ) {}

  /** Calls `listener` for each new notification of `userId`; returns the unsubscribe. */
  async subscribe(userId: string, listener: Listener): Promise<() => Promise<void>> {
    const channel = this.keys.inboxChannel(userId);
    const subscriber = this.connection();

    let set = this.listeners.get(channel);
    if (!set) {
      set = new Set();
      this.listeners.set(channel, set);
      await subscriber.subscribe(channel);
    }
    set.add(listener);

    return async () => {
      set.delete(listener);
      if (set.size || this.listeners.get(channel) !== set) return;
      this.listeners.delete(channel);
      await subscriber.unsubscribe(channel).catch(() => {
        // The connection is gone; nothing stays subscribed on a closed connection.
      });
    };
  }

  async close(): Promise<void> {
    this.listeners.clear();
    this.subscriber?.disconnect();
    this.subscriber = undefined;
  }

  private connection(): RedisClient {
    if (this.subscriber) return this.subscriber;

    const subscriber = createRedis(this.redisUrl, 'blocking', 'taskmaster:inbox-feed');
    subscriber.on('error', () => {
      // It reconnects by itself and ioredis subscribes its channels again.
    });
    subscriber.on('message', (channel: string, message: string) => {
      const set = this.listeners.get(channel);
      if (!set) return;
      let notification: InAppNotification;
      try {
        notification = JSON.parse(message);
      } catch (err) {
        this.log.warn({ err, channel }, 'unreadable inbox event skipped');
        return;
      }
      for (const listener of set) listener(notification);
    });
    this.subscriber = subscriber;
    return subscriber;
  }
}
