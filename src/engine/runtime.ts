import { packageRoot, type Config } from '../config/index.ts';
import { createPluginFolders, Registry, watchedFolders, watchPluginFolders } from '../plugins/index.ts';
import {
  checkServer,
  createRedis,
  Keys,
  startEmbeddedRedis,
  toClusterUrl,
  waitReady,
  type EmbeddedRedis,
  type RedisClient,
} from '../redis/index.ts';
import { join } from 'node:path';
import { defineAttemptCommands } from './attempts.ts';
import { AuditLog } from './audit.ts';
import { Breakers } from './breakers.ts';
import { DeadLetterQueue } from './dead-letter-queue.ts';
import { JobEvents } from './events.ts';
import { defineFinalStateCommands } from './final-states.ts';
import { JobControl } from './job-control.ts';
import { startRetention, sweepRetention, type RetentionReport } from './retention.ts';
import { Settler } from './settler.ts';
import { liveWorkers, newWorkerId, startHeartbeat } from './heartbeat.ts';
import { JobReader } from './jobs.ts';
import { MetricsReader, MetricsRecorder } from './metrics/index.ts';
import { JobBrowser, JobHistory } from './browse/index.ts';
import { createLogger, type Logger } from './logger.ts';
import { ParkedJobs } from './parked.ts';
import { PluginFleet } from './plugin-fleet.ts';
import { Producer } from './producer.ts';
import { QueueSet } from './queues.ts';
import { ScheduleEngine, type Clock } from './schedules/engine.ts';
import { PluginServices } from './services/plugin-services.ts';
import { builtinHousekeeping } from './housekeeping.ts';
import { WorkerPool } from './worker-pool.ts';
import { FileStoreService } from './file-store.ts';
import { Inbox } from './inbox.ts';
import { InboxFeed } from './inbox-feed.ts';

export interface RuntimeOptions {
  config: Config;
  /** Run workers in this process. */
  workers: boolean;
  /** Queues to work on; default the configured `worker.queues`, else all. */
  queues?: string[];
  log?: Logger;
  /** The schedule engine's clock; tests pass one they move by hand. */
  clock?: Clock;
  /**
   * A short-lived process (a CLI command): no folder watching and no part in
   * fleet-wide reloads.
   */
  oneShot?: boolean;
}

export interface Readiness {
  redis: boolean;
  workers: boolean;
}

/** Everything one TaskMaster process runs, wired together. */
export interface Runtime {
  config: Config;
  log: Logger;
  redisUrl: string;
  redis: RedisClient;
  keys: Keys;
  registry: Registry;
  producer: Producer;
  jobs: JobReader;
  /** Who did what: admin actions and key changes, shared by every process. */
  audit: AuditLog;
  schedules: ScheduleEngine;
  /** Depth, throughput and latency of every queue, shared through Redis. */
  metrics: MetricsReader;
  /** Lists and finds jobs by state, type, tenant, priority, text, id or key. */
  browser: JobBrowser;
  /** Per-job history of actions and moves, kept with the job. */
  history: JobHistory;
  /** Databases, plugin key-value stores, cache and flows, as handlers get them. */
  services: PluginServices;
  /** The dead-letter queue: list, show, delete, purge. */
  dlq: DeadLetterQueue;
  /** Cancel, change priority, retry and replay. */
  control: JobControl;
  /** Circuit breakers by downstream. */
  breakers: Breakers;
  workerPool?: WorkerPool;
  /** Job life-cycle events of this process's workers. */
  events: JobEvents;
  /** Report files jobs produced. */
  files: FileStoreService;
  /** In-app notifications per user. */
  inbox: Inbox;
  /** Live in-app notifications, for streams. */
  inboxFeed: InboxFeed;
  /** This process's id in heartbeats and reload outcomes. */
  processId: string;
  /** Reloads here and across all processes; absent in one-shot processes. */
  fleet?: PluginFleet;
  parked: ParkedJobs;
  readiness(): Promise<Readiness>;
  /** Runs one retention pass now (it also runs on a timer). */
  sweepRetention(): Promise<RetentionReport>;
  stop(): Promise<void>;
}

/** How long stopping may take beyond `worker.drainTimeoutMs` before steps are given up on. */
const STOP_GRACE_MS = 10_000;
/** What each stop step still gets once that time has passed. */
const STEP_ALLOWANCE_MS = 1000;

/**
 * Starts a TaskMaster process:
 * 1. Redis: the configured server, checked, or an embedded `redis-server`;
 * 2. plugins: discovered, loaded and validated (a bad one stops the start);
 * 3. the producer and the job reader;
 * 4. reloads: on request from any process, and when a plugin folder changes;
 * 5. when asked, the workers, after every plugin's `onInit`;
 * 6. the schedule loop, after writing the configured schedules.
 */
export async function startRuntime(options: RuntimeOptions): Promise<Runtime> {
  const { config } = options;
  const log = options.log ?? createLogger(config.log.level);
  const root = packageRoot();
  const cleanups: (() => Promise<void>)[] = [];
  const events = new JobEvents(log);
  // Stopping is bounded: with Redis away a step can wait for ever (a BullMQ worker's close,
  // a last write). Past the drain limit and a grace period each remaining step gets a short
  // allowance, so the process still exits and the embedded redis-server is still stopped.
  const stopAll = async () => {
    const deadline = Date.now() + config.worker.drainTimeoutMs + STOP_GRACE_MS;
    const steps = cleanups.reverse();
    for (const [index, cleanup] of steps.entries()) {
      const allowance = Math.max(STEP_ALLOWANCE_MS, deadline - Date.now());
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), allowance)));
      const outcome = await Promise.race([cleanup().catch((err) => log.error({ err }, 'stop step failed')), late]);
      clearTimeout(timer);
      if (outcome === 'late') log.error({ step: index + 1, of: steps.length, waitedMs: allowance }, 'stop step did not finish in time; going on');
    }
  };

  try {
    // 1. Redis.
    let redisUrl = config.redis.url && config.redis.cluster ? toClusterUrl(config.redis.url) : config.redis.url;
    let embedded: EmbeddedRedis | undefined;
    if (!redisUrl) {
      embedded = await startEmbeddedRedis(config.redis.embeddedDir ?? join(config.dataDir, 'redis'), {
        log: log.child({ component: 'embedded-redis' }),
      });
      cleanups.push(() => embedded!.stop());
      redisUrl = embedded.url;
      log.info({ port: embedded.port, owner: embedded.owner }, 'using embedded redis-server');
    }

    const redis = createRedis(redisUrl, 'command', 'taskmaster:command');
    redis.on('error', () => {
      // Reported through readiness and failed calls; the client reconnects by itself.
    });
    cleanups.push(async () => redis.disconnect());
    await waitReady(redis, 15_000);
    defineAttemptCommands(redis);
    defineFinalStateCommands(redis);

    if (!embedded) {
      const check = await checkServer(redis, config.redis.allowEviction);
      for (const warning of check.warnings) log.warn(warning);
      if (check.fatal) throw new Error(check.fatal);
    }

    // 2. Plugins.
    const registry = await Registry.load(config, root, log.child({ component: 'plugins' }));
    const queueNames = Object.keys(config.queues);
    for (const entry of registry.types()) {
      const fallback = entry.definition.fallback;
      if (fallback && 'type' in fallback && !registry.get(fallback.type)) {
        throw new Error(`job type ${entry.type} falls back to ${fallback.type}, which no plugin provides`);
      }
    }
    log.info({ plugins: registry.plugins().map((p) => `${p.name}@${p.version}`) }, 'plugins loaded');

    // 3. Producing and reading.
    const keys = new Keys(config.redis.prefix);
    const queues = new QueueSet(redis, keys, queueNames, config.queues);
    cleanups.push(() => queues.close());
    const producer = new Producer(config, registry, queues, redis, keys);
    const jobs = new JobReader(queues, redis, keys);
    const audit = new AuditLog(redis, keys, config.audit);
    const schedules = new ScheduleEngine({
      redis,
      keys,
      producer,
      queues,
      log: log.child({ component: 'schedules' }),
      clock: options.clock,
      tickMs: config.scheduler.tickMs,
      graceMs: config.scheduler.graceMs,
    });
    await schedules.applyConfigured(config.schedules);
    const files = new FileStoreService(redis, keys, config.reports.dir!, config.reports.retentionMs);
    const inbox = new Inbox(redis, keys, config.notifications.perUserLimit);
    const inboxFeed = new InboxFeed(redisUrl, keys, log);
    cleanups.push(() => inboxFeed.close());
    const metrics = new MetricsReader(redis, keys, queues, config.metrics.retentionMs);
    const browser = new JobBrowser(redis, keys, queueNames);
    const history = new JobHistory(redis, keys);
    const parked = new ParkedJobs(redis, keys);
    registry.onServing((types) => {
      parked.wake(types, queues, log).catch((err) => log.warn({ err, types }, 'cannot wake jobs waiting for a handler'));
    });
    const services = new PluginServices(config, redis, keys, producer, builtinHousekeeping(config, queues, redis, files));
    cleanups.push(() => services.close());
    const dlq = new DeadLetterQueue(redis, keys, queueNames);
    const control = new JobControl(redis, keys, queues, registry, producer, dlq, events, log, history);
    const breakers = new Breakers(redis, keys, config.breakers, events, log);
    const settler = new Settler(redis, keys, queues, events, log);
    const retentionDeps = { config, redis, keys, queues, dlq, settler, log };
    cleanups.push(startRetention(retentionDeps));

    // 4. Reloads.
    const processId = newWorkerId();
    let fleet: PluginFleet | undefined;
    if (!options.oneShot) {
      fleet = new PluginFleet({
        redis,
        redisUrl,
        keys,
        registry,
        processId,
        role: options.workers ? 'worker' : 'api',
        log,
        keepFilesMaxBytes: config.plugins.keepFilesMaxBytes,
      });
      await fleet.start();
      cleanups.push(() => fleet!.stop());
      await fleet.remember().catch((err) => log.warn({ err }, 'cannot record plugin history'));
      if (config.plugins.watch) {
        const folders = createPluginFolders(config);
        for (const dir of folders.created) log.info({ dir }, 'created plugin folder');
        for (const { dir, error } of folders.failed) log.warn({ dir, err: error }, 'cannot create plugin folder; it is not watched');
        const reloadOnChange = () => void fleet!.reloadHere('watch');
        const unwatch = watchPluginFolders(watchedFolders(config, root), config.plugins.watchDebounceMs, reloadOnChange, log);
        cleanups.push(async () => unwatch());
      }
    }

    // 5. Workers.
    let workerPool: WorkerPool | undefined;
    if (options.workers) {
      const serve = options.queues ?? config.worker.queues ?? queueNames;
      const unknown = serve.filter((q) => !queueNames.includes(q));
      if (unknown.length) throw new Error(`unknown queues for this worker: ${unknown.join(', ')}`);

      const recorder = new MetricsRecorder(redis, keys, config.metrics, log);
      recorder.start(events);
      cleanups.push(() => recorder.stop());

      await registry.init();
      cleanups.push(() => registry.shutdown());

      const workerId = processId;
      workerPool = new WorkerPool({
        config,
        registry,
        redisUrl,
        commandRedis: redis,
        keys,
        workerId,
        log: log.child({ workerId }),
        events,
        breakers,
        settler,
        submit: (input, submittedBy) => producer.submit(input, submittedBy),
        services: { redis, keys, files, inbox, producer },
        pluginServices: services,
      });
      await workerPool.start(serve);
      cleanups.push(() => workerPool!.close());

      const startedAt = Date.now();
      const heartbeat = startHeartbeat(redis, keys, () => ({
        id: workerId,
        host: workerId.split(':')[0],
        pid: process.pid,
        queues: serve,
        plugins: registry.versions(),
        rejected: registry.rejected(),
        startedAt,
      }));
      cleanups.push(heartbeat);
      cleanups.push(files.startSweeper(config.reports.sweepIntervalMs, log));
      fleet?.onReloaded(() => void heartbeat.beat());
      void parked.wake(registry.types().map((t) => t.type), queues, log).catch((err) => log.warn({ err }, 'cannot wake parked jobs'));
      log.info({ queues: serve }, 'workers started');
    }

    // 6. Schedules: any number of processes may tick; they agree through Redis.
    if (config.scheduler.enabled) {
      schedules.start();
      cleanups.push(() => schedules.stop());
    }

    return {
      config,
      log,
      redisUrl,
      redis,
      keys,
      registry,
      producer,
      jobs,
      audit,
      schedules,
      metrics,
      browser,
      history,
      services,
      dlq,
      control,
      breakers,
      workerPool,
      events,
      files,
      inbox,
      inboxFeed,
      processId,
      fleet,
      parked,
      async readiness() {
        const redisUp = await redis
          .ping()
          .then(() => true)
          .catch(() => false);
        if (!redisUp) return { redis: false, workers: false };
        if (workerPool) return { redis: true, workers: workerPool.running };
        const live = await liveWorkers(redis, keys).catch(() => []);
        return { redis: true, workers: live.length > 0 };
      },
      sweepRetention: () => sweepRetention(retentionDeps),
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
