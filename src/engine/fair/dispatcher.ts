import type { QueueConfig } from '../../config/index.ts';
import { PRIORITIES } from '../../core/index.ts';
import type { Keys, RedisClient } from '../../redis/index.ts';
import type { Logger } from '../logger.ts';
import { defineFairCommands } from './dispatch-script.ts';

/** Held jobs listed per script call at most; more are listed by the next call at once. */
const LIST_LIMIT = 1000;

/** Longest quiet wait between dispatches; events usually end it much sooner. */
const IDLE_MS = 2000;

/** Pause after a failed dispatch (Redis away) before the next try. */
const RETRY_MS = 1000;

/** A blocking read this much past its own timeout is taken for a dead connection. */
const SILENT_GRACE_MS = 3000;

export interface DispatcherOptions {
  queue: string;
  settings: QueueConfig;
  /** For the script calls. */
  redis: RedisClient;
  /** Opens a connection of the dispatcher's own, which blocks reading the queue's event stream. */
  connect: () => RedisClient;
  keys: Keys;
  /** Jobs kept in BullMQ's wait list ahead of the workers. */
  lookahead: number;
  log: Logger;
}

/**
 * Feeds one fair queue's BullMQ wait list in fair order, in every worker
 * process serving the queue. Each round is one script call (see
 * dispatch-script.ts): it lists the held jobs that became ready and tops the
 * wait list up to `lookahead` jobs. Between rounds it blocks on the queue's
 * BullMQ event stream, which every add, retry, start and completion writes
 * to, so a new job or a free worker starts a round at once; with nothing
 * happening, it wakes when the next delayed job becomes ready.
 *
 * Several processes may dispatch the same queue: each round is atomic, so
 * they only share the work. A process killed mid-round loses nothing: the
 * script ran whole or not at all.
 */
export class Dispatcher {
  private stopped = false;
  private loop?: Promise<void>;
  private lastEventId = '$';
  private blocking: RedisClient;

  constructor(private readonly options: DispatcherOptions) {
    defineFairCommands(options.redis);
    this.blocking = this.open();
  }

  async start(): Promise<void> {
    await this.writeTenantSettings();
    const [latest] = await this.options.redis.xrevrange(this.key('events'), '+', '-', 'COUNT', 1);
    this.lastEventId = latest?.[0] ?? '0-0';
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.blocking.disconnect();
    await this.loop;
  }

  /** One round now: lists ready held jobs and tops the wait list up to `lookahead` jobs. */
  async dispatch(lookahead = this.options.lookahead): Promise<{ dispatched: number; listed: number; waiting: number; nextReadyAt?: number }> {
    const { redis, keys, queue, settings } = this.options;
    const [dispatched, listed, waiting, nextReady] = await redis.tmFairDispatch(
      this.key('delayed'),
      this.key('wait'),
      this.key('marker'),
      this.key('meta'),
      keys.fair(queue) + 'state',
      keys.fair(queue) + 'tenants',
      this.key('prioritized'),
      keys.job(queue, ''),
      keys.fair(queue),
      Date.now(),
      lookahead,
      LIST_LIMIT,
      ...PRIORITIES.map((p) => settings.weights[p]),
    );
    return { dispatched, listed, waiting, nextReadyAt: nextReady >= 0 ? nextReady : undefined };
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        const round = await this.dispatch();
        if (round.listed === LIST_LIMIT) continue;
        const untilReady = round.nextReadyAt === undefined ? IDLE_MS : round.nextReadyAt - Date.now();
        await this.waitForEvents(Math.max(1, Math.min(IDLE_MS, untilReady)));
      } catch (err) {
        if (this.stopped) return;
        this.options.log.warn({ err: { message: (err as Error).message } }, 'fair dispatch failed; trying again');
        await new Promise((r) => setTimeout(r, RETRY_MS));
      }
    }
  }

  /**
   * Blocks until the queue's event stream moves past the last event seen, or
   * `timeoutMs`. A read that outlives its timeout went over a dead
   * connection (a silent network path): the connection is replaced.
   */
  private async waitForEvents(timeoutMs: number): Promise<void> {
    const read = this.blocking.xread('COUNT', 1000, 'BLOCK', timeoutMs, 'STREAMS', this.key('events'), this.lastEventId) as Promise<
      [string, [string, string[]][]][] | null
    >;
    let timer: NodeJS.Timeout | undefined;
    const silent = new Promise<'silent'>((r) => (timer = setTimeout(() => r('silent'), timeoutMs + SILENT_GRACE_MS)));
    const reply = await Promise.race([read, silent]).finally(() => clearTimeout(timer));
    if (reply === 'silent') {
      // The abandoned read fails when its connection closes: nothing waits for it.
      read.catch(() => undefined);
      this.options.log.warn({ queue: this.options.queue }, 'dispatcher connection silent; replacing it');
      this.blocking.disconnect();
      this.blocking = this.open();
      return;
    }
    const entries = reply?.[0]?.[1];
    if (entries?.length) this.lastEventId = entries[entries.length - 1][0];
  }

  private open(): RedisClient {
    const connection = this.options.connect();
    connection.on('error', () => {
      // Reconnects by itself; a failed read only delays the next round.
    });
    return connection;
  }

  /** Tenant weights and caps, where the script reads them: `weight|maxRunning`. */
  async writeTenantSettings(): Promise<void> {
    const key = this.options.keys.fair(this.options.queue) + 'tenants';
    const entries = Object.entries(this.options.settings.tenants).flatMap(([tenant, s]) => [tenant, `${s.weight}|${s.maxRunning ?? ''}`]);
    const multi = this.options.redis.multi().del(key);
    if (entries.length) multi.hset(key, ...entries);
    await multi.exec();
  }

  private key(name: string): string {
    return this.options.keys.bullKey(this.options.queue, name);
  }
}
