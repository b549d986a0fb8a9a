import type { RedisClient } from '../redis/index.ts';
import type { Logger } from './logger.ts';

/**
 * BullMQ blocks for at most 10 s on its blocking connection, and a probe sent
 * there waits behind that; this much more is allowed before it counts as lost.
 */
const BLOCKING_ALLOWANCE_MS = 11_000;
/** Checks in a row a worker must fail before it is replaced: one miss can be a reconnect. */
const MISSES_BEFORE_REPLACE = 2;

/** A worker the watchdog can probe: its normal and its blocking connection. */
export interface WatchedWorker {
  queue: string;
  /** A key in the queue's slot: on a cluster the probe must reach the node the worker blocks on. */
  probeKey: string;
  clients(): Promise<{ main: ProbeClient; blocking?: ProbeClient }>;
}

/** What the watchdog needs of a connection (BullMQ wraps its own clients). */
interface ProbeClient {
  get(key: string): Promise<unknown>;
}

export interface WatchdogOptions {
  workers: () => WatchedWorker[];
  /** A connection of this process that shows whether Redis itself is up. */
  redis: RedisClient;
  intervalMs: number;
  log: Logger;
  replace: (worker: WatchedWorker) => Promise<void>;
}

/**
 * Watches the connections of a process's workers. A half-open TCP connection
 * (a peer or a middlebox that vanished without a reset) leaves a command
 * waiting for ever and the worker silently idle. Every `intervalMs` each
 * worker's connections must answer a read of a key in its queue's slot; when they stay silent for two
 * checks while this process's command connection answers (so Redis is up),
 * the worker is replaced by one on fresh connections. While Redis is down
 * nothing is replaced: every connection reconnects by itself.
 *
 * Returns a function that stops the watchdog.
 */
export function startWatchdog(options: WatchdogOptions): () => void {
  const misses = new Map<WatchedWorker, number>();
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const check = async () => {
    const redisUp = await withTimeout(options.redis.ping(), options.intervalMs).then(
      () => true,
      () => false,
    );
    if (!redisUp) return;

    for (const worker of options.workers()) {
      if (stopped) return;
      const healthy = await answers(worker, options.intervalMs);
      const missed = healthy ? 0 : (misses.get(worker) ?? 0) + 1;
      misses.set(worker, missed);
      if (missed < MISSES_BEFORE_REPLACE) continue;

      options.log.error({ queue: worker.queue, misses: missed }, 'worker connection silent while Redis answers; replacing the worker');
      misses.delete(worker);
      await options.replace(worker).catch((err) => options.log.error({ err, queue: worker.queue }, 'could not replace worker'));
    }
  };

  const loop = () => {
    timer = setTimeout(() => {
      check()
        .catch((err) => options.log.error({ err }, 'watchdog check failed'))
        .finally(() => {
          if (!stopped) loop();
        });
    }, options.intervalMs);
    timer.unref();
  };
  loop();

  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

async function answers(worker: WatchedWorker, intervalMs: number): Promise<boolean> {
  try {
    const { main, blocking } = await withTimeout(worker.clients(), intervalMs);
    await Promise.all([
      withTimeout(main.get(worker.probeKey), intervalMs),
      blocking ? withTimeout(blocking.get(worker.probeKey), intervalMs + BLOCKING_ALLOWANCE_MS) : undefined,
    ]);
    return true;
  } catch {
    // A rejected or late answer is exactly what this check looks for.
    return false;
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms);
  });
  promise.catch(() => {
    // Settled after the race was lost; the outcome no longer matters.
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}
