import { Queue } from 'bullmq';
import type { QueueConfig } from '../config/index.ts';
import type { Keys, RedisClient } from '../redis/index.ts';

/**
 * The BullMQ `Queue` objects of the declared queues, sharing one fail-fast
 * connection. Made on first use and closed together.
 */
export class QueueSet {
  private readonly queues = new Map<string, Queue>();

  constructor(
    private readonly connection: RedisClient,
    private readonly keys: Keys,
    readonly names: readonly string[],
    private readonly configured: Record<string, QueueConfig> = {},
  ) {}

  has(name: string): boolean {
    return this.names.includes(name);
  }

  /** A queue's configuration (concurrency, fairness, weights, tenants). */
  settings(name: string): QueueConfig | undefined {
    return this.configured[name];
  }

  get(name: string): Queue {
    let queue = this.queues.get(name);
    if (!queue) {
      queue = new Queue(this.keys.bullQueue(name), {
        connection: this.connection,
        prefix: this.keys.prefix,
      });
      // Connection errors surface on the calls that fail; the event only needs a listener.
      queue.on('error', () => {});
      this.queues.set(name, queue);
    }
    return queue;
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    this.queues.clear();
  }
}
