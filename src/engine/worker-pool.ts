import { setMaxListeners } from 'node:events';
import { Worker } from 'bullmq';
import type { Config } from '../config/index.ts';
import type { Registry } from '../plugins/index.ts';
import { createRedis, type Keys, type RedisClient } from '../redis/index.ts';
import { taskmasterBackoff } from './backoff-strategy.ts';
import type { JobEvents } from './events.ts';
import type { JobServices } from './job-services.ts';
import type { Logger } from './logger.ts';
import { OutboundGuard } from './outbound-guard.ts';
import { endIsolatedThreads } from './isolated-runner.ts';
import { ParkedJobs } from './parked.ts';
import { createProcessor } from './processor.ts';
import type { PluginServices } from './services/plugin-services.ts';

/**
 * The BullMQ workers of one process, one per queue it serves, each with the
 * queue's concurrency. Closing lets running jobs finish for the drain limit,
 * then aborts them through their signal so they are retried elsewhere.
 */
export class WorkerPool {
  private readonly workers: Worker[] = [];
  /** BullMQ leaves a connection it was given open on close; the pool closes its own. */
  private readonly connections: { disconnect(): void }[] = [];
  private readonly shutdown = new AbortController();
  private readonly outbound: OutboundGuard;

  constructor(
    private readonly config: Config,
    private readonly registry: Registry,
    private readonly redisUrl: string,
    private readonly commandRedis: RedisClient,
    private readonly keys: Keys,
    readonly workerId: string,
    private readonly log: Logger,
    private readonly events: JobEvents,
    private readonly services: JobServices,
    private readonly pluginServices: PluginServices,
  ) {
    this.outbound = new OutboundGuard(config.outbound.allow);
    // Every running job listens on it: as many listeners as the concurrency allows.
    setMaxListeners(0, this.shutdown.signal);
  }

  /** Starts one BullMQ worker for each queue; waits until each is connected. */
  async start(queues: string[]): Promise<void> {
    for (const queue of queues) {
      const log = this.log.child({ queue });
      const processor = createProcessor({
        queue,
        registry: this.registry,
        redis: this.commandRedis,
        keys: this.keys,
        workerId: this.workerId,
        settings: this.config.plugins.settings,
        outbound: this.outbound,
        pluginServices: this.pluginServices,
        log,
        shutdown: this.shutdown.signal,
        events: this.events,
        services: this.services,
        parked: new ParkedJobs(this.commandRedis, this.keys),
        missingHandlerRecheckMs: this.config.plugins.missingHandlerRecheckMs,
        sdkEntry: this.registry.sdkEntry,
      });

      const connection = createRedis(this.redisUrl, 'blocking', `taskmaster:worker:${queue}`);
      this.connections.push(connection);
      const worker = new Worker(this.keys.bullQueue(queue), processor, {
        connection,
        prefix: this.keys.prefix,
        concurrency: this.config.queues[queue]?.concurrency ?? 10,
        lockDuration: this.config.worker.lockDurationMs,
        stalledInterval: this.config.worker.stalledIntervalMs,
        limiter: limiterOf(this.config.queues[queue]?.limiter),
        settings: { backoffStrategy: taskmasterBackoff },
        autorun: false,
      });
      worker.on('error', (err) => log.error({ err: { message: err.message } }, 'worker error'));
      worker.on('failed', (job, err) => {
        if (job && job.finishedOn) {
          log.error({ jobId: job.id, type: job.name, attempts: job.attemptsMade, reason: err.message }, 'job failed for good');
        }
      });

      void worker.run();
      await worker.waitUntilReady();
      this.workers.push(worker);
    }
  }

  get running(): boolean {
    return this.workers.length > 0 && this.workers.every((w) => w.isRunning());
  }

  /** Stops taking jobs, drains for `drainTimeoutMs`, then aborts what still runs. */
  async close(): Promise<void> {
    const drain = Promise.all(this.workers.map((w) => w.close()));
    const timer = setTimeout(() => this.shutdown.abort(new Error('worker shutting down')), this.config.worker.drainTimeoutMs);
    try {
      await drain;
    } finally {
      clearTimeout(timer);
      await this.outbound.close();
      for (const connection of this.connections) connection.disconnect();
      await endIsolatedThreads();
    }
  }
}

/** BullMQ's limiter option from a queue's `limiter` setting. */
function limiterOf(limiter: { max: number; durationMs: number } | undefined) {
  return limiter ? { max: limiter.max, duration: limiter.durationMs } : undefined;
}
