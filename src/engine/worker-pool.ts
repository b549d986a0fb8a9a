import { setMaxListeners } from 'node:events';
import { Worker, type Job, type JobJson, type Processor, type WorkerOptions } from 'bullmq';
import type { Config } from '../config/index.ts';
import type { Registry } from '../plugins/index.ts';
import { createRedis, type Keys, type RedisClient } from '../redis/index.ts';
import { taskmasterBackoff } from './backoff-strategy.ts';
import type { Breakers } from './breakers.ts';
import { WorkerShutdownError } from './errors.ts';
import type { JobEvents } from './events.ts';
import type { SubmitJob } from './fallbacks.ts';
import type { JobServices } from './job-services.ts';
import type { Logger } from './logger.ts';
import { OutboundGuard } from './outbound-guard.ts';
import { endIsolatedThreads } from './isolated-runner.ts';
import { LockKeeper, type HeldLock } from './lock-keeper.ts';
import { CANCEL_FIELD } from './final-states.ts';
import { defineAttemptCommands } from './attempts.ts';
import { ParkedJobs } from './parked.ts';
import { createProcessor } from './processor.ts';
import { Dispatcher } from './fair/dispatcher.ts';
import { heldDelay } from './fair/hold.ts';
import type { PluginServices } from './services/plugin-services.ts';
import type { Settler } from './settler.ts';
import { startWatchdog, type WatchedWorker } from './watchdog.ts';
import { SecretBox } from './secrets.ts';

/**
 * A fair queue's wait list holds this many jobs per slot of the local
 * worker: enough to keep the workers busy between two dispatch rounds, few
 * enough that a newly ready urgent job waits behind little.
 */
const LOOKAHEAD_PER_SLOT = 2;

/** How long interrupted jobs get to be put back to wait after the drain limit. */
const REQUEUE_GRACE_MS = 5000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One queue's BullMQ worker and the connection this pool opened for it. */
interface Slot extends WatchedWorker {
  queue: string;
  worker: Worker;
  connection: RedisClient;
  /** Names this worker's jobs to the lock keeper. */
  owner: string;
}

/**
 * The BullMQ workers of one process, one per queue it serves, each with the
 * queue's concurrency.
 *
 * Closing: every worker stops taking jobs at once; running jobs get the
 * drain limit to finish; then their signal fires and each is put back to
 * wait (no retry used) for another worker to take. A watchdog replaces a
 * worker whose connection stops answering while Redis is up.
 *
 * Locks of running jobs are also kept from a thread (the lock keeper), so a
 * handler that blocks the event loop does not get its job run twice.
 *
 * A job failed for good is handed to the settler (DLQ or cancelled). Cancel
 * requests arrive over Redis pub/sub and abort the running job's signal; the
 * lock keeper finds the ones whose message was lost.
 */
export class WorkerPool {
  private readonly slots = new Map<string, Slot>();
  private readonly dispatchers: Dispatcher[] = [];
  private readonly shutdown = new AbortController();
  private readonly outbound: OutboundGuard;
  private stopWatchdog?: () => void;
  private closing = false;
  private readonly secrets?: SecretBox;
  private subscriber?: RedisClient;
  private keeper?: LockKeeper;
  private slotCount = 0;
  private readonly config: Config;
  private readonly registry: Registry;
  private readonly redisUrl: string;
  private readonly commandRedis: RedisClient;
  private readonly keys: Keys;
  readonly workerId: string;
  private readonly log: Logger;
  private readonly events: JobEvents;
  private readonly services: JobServices;
  private readonly pluginServices: PluginServices;

  constructor(private readonly deps: WorkerPoolDeps) {
    ({
      config: this.config,
      registry: this.registry,
      redisUrl: this.redisUrl,
      commandRedis: this.commandRedis,
      keys: this.keys,
      workerId: this.workerId,
      log: this.log,
      events: this.events,
      services: this.services,
      pluginServices: this.pluginServices,
    } = deps);
    this.outbound = new OutboundGuard(deps.config.outbound.allow);
    // Every running job listens on it: as many listeners as the concurrency allows.
    setMaxListeners(0, this.shutdown.signal);
    if (deps.config.secrets.key) this.secrets = new SecretBox(deps.config.secrets.key);
  }

  /** Cancel requests name a job id; the worker running it (if any here) aborts it. */
  private async listenForCancels(): Promise<void> {
    const subscriber = createRedis(this.redisUrl, 'blocking', 'taskmaster:cancel');
    subscriber.on('error', () => {
      // Reconnects by itself; a cancel missed meanwhile is caught by the lock keeper (a running job) or when the job next starts.
    });
    subscriber.on('message', (_channel, jobId: string) => this.cancelHere(jobId));
    await subscriber.subscribe(this.keys.cancelChannel());
    this.subscriber = subscriber;
  }

  /** Aborts the job's signal if it runs here. */
  private cancelHere(jobId: string): void {
    for (const slot of this.slots.values()) slot.worker.cancelJob(jobId, 'cancelled');
  }

  /** Starts one BullMQ worker for each queue, and a dispatcher for each fair one; waits until each is connected. */
  async start(queues: string[]): Promise<void> {
    const keeper = new LockKeeper({
      redisUrl: this.redisUrl,
      lockDurationMs: this.config.worker.lockDurationMs,
      cancelField: CANCEL_FIELD,
      log: this.log,
      onCancel: (jobId) => this.cancelHere(jobId),
    });
    await keeper.start();
    this.keeper = keeper;
    for (const queue of queues) this.slots.set(queue, await this.startSlot(queue));
    for (const queue of queues) {
      const settings = this.config.queues[queue];
      if (!settings?.fair) continue;
      const dispatcher = new Dispatcher({
        queue,
        settings,
        redis: this.commandRedis,
        connect: () => createRedis(this.redisUrl, 'blocking', `taskmaster:dispatch:${queue}`),
        keys: this.keys,
        lookahead: LOOKAHEAD_PER_SLOT * settings.concurrency,
        log: this.log.child({ queue, component: 'dispatcher' }),
      });
      await dispatcher.start();
      this.dispatchers.push(dispatcher);
    }
    await this.listenForCancels();

    this.stopWatchdog = startWatchdog({
      workers: () => [...this.slots.values()],
      redis: this.commandRedis,
      intervalMs: this.config.worker.watchdogIntervalMs,
      log: this.log,
      replace: (slot) => this.replace(slot as Slot),
    });
  }

  get running(): boolean {
    return this.slots.size > 0 && [...this.slots.values()].every((s) => s.worker.isRunning());
  }

  /** Stops taking jobs, drains for `drainTimeoutMs`, then aborts and requeues what still runs. */
  async close(): Promise<void> {
    this.closing = true;
    this.stopWatchdog?.();
    await Promise.all(this.dispatchers.map((d) => d.stop()));
    this.subscriber?.disconnect();
    const { drainTimeoutMs } = this.config.worker;

    const slots = [...this.slots.values()];
    const drain = Promise.all(slots.map((s) => s.worker.close()));
    const timer = setTimeout(() => {
      this.log.warn({ drainTimeoutMs }, 'drain limit reached; interrupting running jobs');
      this.shutdown.abort(new WorkerShutdownError(drainTimeoutMs));
    }, drainTimeoutMs);

    // Requeueing needs Redis; over a dead connection it never ends, so the wait is bounded.
    let giveUp: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      giveUp = setTimeout(() => resolve('late'), drainTimeoutMs + REQUEUE_GRACE_MS);
    });
    try {
      if ((await Promise.race([drain, late])) === 'late') {
        this.log.error(
          { graceMs: REQUEUE_GRACE_MS },
          'workers did not stop in time; jobs still active return to wait when their lock expires',
        );
        await Promise.race([Promise.all(slots.map((s) => s.worker.close(true).catch(() => undefined))), sleep(1000)]);
      }
    } finally {
      clearTimeout(timer);
      clearTimeout(giveUp);
      // BullMQ leaves a connection it was given open on close; the pool closes its own.
      for (const slot of slots) slot.connection.disconnect();
      await this.outbound.close();
      await endIsolatedThreads();
      await this.keeper?.close();
    }
  }

  private async startSlot(queue: string): Promise<Slot> {
    const log = this.log.child({ queue });
    const connection = createRedis(this.redisUrl, 'blocking', `taskmaster:worker:${queue}`);
    defineAttemptCommands(connection);
    const processor = createProcessor({
      queue,
      registry: this.registry,
      redis: this.commandRedis,
      // BullMQ's own connection for this queue: it waits out an outage the way BullMQ's completion does.
      recordRedis: connection,
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
      secrets: this.secrets,
      breakers: this.deps.breakers,
      submit: this.deps.submit,
    });

    const { lockDurationMs, stalledIntervalMs, maxStalledCount } = this.config.worker;
    const owner = `${queue}#${++this.slotCount}`;
    const held = this.keeper && { keeper: this.keeper, owner, lockDurationMs, defaultTimeoutMs: this.config.defaults.timeoutMs };
    const worker = new TolerantWorker(held, this.keys.bullQueue(queue), processor, {
      connection,
      prefix: this.keys.prefix,
      concurrency: this.config.queues[queue]?.concurrency ?? 10,
      lockDuration: lockDurationMs,
      stalledInterval: stalledIntervalMs,
      maxStalledCount,
      limiter: limiterOf(this.config.queues[queue]?.limiter),
      // A fair queue's retry waits held, so it rejoins its class in fair order when ready.
      settings: { backoffStrategy: this.config.queues[queue]?.fair ? heldBackoff : taskmasterBackoff },
      autorun: false,
    });
    this.keeper?.watch({
      owner,
      activeKey: worker.keys.active,
      stalledKey: worker.keys.stalled,
      keyBase: worker.toKey(''),
      tokenPrefix: `${worker.id}:`,
    });
    worker.on('error', (err) => log.error({ err: { message: err.message } }, 'worker error'));
    worker.on('failed', (job) => {
      if (!job?.finishedOn || !job.id) return;
      // The retention sweep settles it later if this fails (Redis away, process dying).
      this.deps.settler.settle(queue, job.id).catch((err) => log.error({ err, jobId: job.id }, 'could not settle failed job'));
    });

    void worker.run();
    await worker.waitUntilReady();
    return {
      queue,
      worker,
      connection,
      owner,
      probeKey: this.keys.watchdogProbe(queue),
      clients: async () => ({ main: connection, blocking: await worker.getBackend().blockingClient }),
    };
  }

  /**
   * Swaps a worker whose connections went silent for a fresh one. The old
   * worker is closed without waiting: its running jobs cannot report back
   * over a dead connection anyway, so their locks expire and the stalled-job
   * check returns them to wait.
   */
  private async replace(old: Slot): Promise<void> {
    if (this.closing || this.slots.get(old.queue) !== old) return;

    const fresh = await this.startSlot(old.queue);
    if (this.closing) {
      await fresh.worker.close(true);
      return;
    }
    this.slots.set(old.queue, fresh);
    this.keeper?.releaseOwner(old.owner);
    void old.worker.close(true).catch(() => {
      // Closing over a dead connection may fail; the worker is dropped either way.
    });
    old.connection.disconnect();
  }
}

/** What a worker pool needs from the runtime. */
export interface WorkerPoolDeps {
  config: Config;
  registry: Registry;
  redisUrl: string;
  commandRedis: RedisClient;
  keys: Keys;
  workerId: string;
  log: Logger;
  events: JobEvents;
  breakers: Breakers;
  settler: Settler;
  submit: SubmitJob;
  /** Files, notifications, checkpoints and follow-up jobs for handlers. */
  services: JobServices;
  /** Databases, key-value store, cache and flows for handlers. */
  pluginServices: PluginServices;
}

/** What a worker needs to hand its jobs' locks to the lock keeper. */
interface KeptLocks {
  keeper: LockKeeper;
  owner: string;
  lockDurationMs: number;
  /** For a job stored without a timeout. */
  defaultTimeoutMs: number;
}

/**
 * A BullMQ worker that hands each job's lock to the lock keeper while it
 * runs, and survives a job whose stored data or options are not JSON.
 * BullMQ would throw while reading such a job and leave it in `active`;
 * here it is read with an empty envelope instead, so the processor fails it
 * once as `invalid_payload` and the settler keeps the original text in the
 * DLQ entry.
 */
class TolerantWorker extends Worker {
  constructor(
    private readonly kept: KeptLocks | undefined,
    name: string,
    processor: Processor,
    opts: WorkerOptions,
  ) {
    super(name, processor, opts);
  }

  override async processJob(job: Job, token: string, fetchNext?: () => boolean) {
    const lock = this.kept && job.id ? this.heldLock(this.kept, job, token) : undefined;
    if (lock) this.kept!.keeper.hold(lock);
    try {
      return await super.processJob(job, token, fetchNext);
    } finally {
      if (lock) this.kept!.keeper.release(lock.lockKey);
    }
  }

  private heldLock(kept: KeptLocks, job: Job, token: string): HeldLock {
    const timeoutMs = Number(job.data?.timeoutMs) > 0 ? Number(job.data.timeoutMs) : kept.defaultTimeoutMs;
    const jobKey = this.toKey(job.id!);
    return {
      owner: kept.owner,
      jobId: job.id!,
      token,
      lockKey: `${jobKey}:lock`,
      jobKey,
      stalledKey: this.keys.stalled,
      deadline: Date.now() + timeoutMs + kept.lockDurationMs,
    };
  }

  protected override createJob(data: JobJson, jobId: string): Job {
    // Straight from Redis both fields are still JSON text, whatever JobJson's types say.
    const opts = data.opts as unknown;
    return super.createJob(
      { ...data, data: readable(data.data, '{}'), opts: (typeof opts === 'string' ? readable(opts, '{"attempts":1}') : opts) as JobJson['opts'] },
      jobId,
    );
  }
}

function heldBackoff(...args: Parameters<typeof taskmasterBackoff>): number {
  const delayMs = taskmasterBackoff(...args);
  return delayMs < 0 ? delayMs : heldDelay(delayMs);
}

function readable(raw: string, replacement: string): string {
  if (typeof raw !== 'string' || raw === '') return raw;
  try {
    JSON.parse(raw);
    return raw;
  } catch {
    return replacement;
  }
}

/** BullMQ's limiter option from a queue's `limiter` setting. */
function limiterOf(limiter: { max: number; durationMs: number } | undefined) {
  return limiter ? { max: limiter.max, duration: limiter.durationMs } : undefined;
}
