import { z } from 'zod';
import ipaddr from 'ipaddr.js';
import {
  backoffPolicySchema,
  DAY,
  DEFAULT_BACKOFF_MS,
  DEFAULT_PRIORITY,
  DEFAULT_RETRIES,
  HOUR,
  MINUTE,
  PRIORITIES,
  QUEUE_NAME,
  SCHEDULE_NAME,
  scheduleSpecSchema,
  SECOND,
} from '../core/index.ts';
import { apiKeySchema, rateLimitSchema, SCOPES, type Scope } from './key-schema.ts';
import { queueSchema } from './queue-schema.ts';

/** Where your own plugins live unless `plugins.dirs` says otherwise (from the working directory). */
export const DEFAULT_PLUGIN_DIR = './my-plugins';

/**
 * The whole configuration with its defaults. Every option is documented in
 * the README's configuration table; keep the two in step.
 */
export const configSchema = z.strictObject({
  /** Where the embedded Redis, generated keys and report files live. */
  dataDir: z.string().default('./data'),

  redis: z
    .strictObject({
      /**
       * A Redis URL; unset means TaskMaster starts its own `redis-server`.
       * `redis+cluster://host:port,host:port` (or `rediss+cluster://`) names
       * nodes of a Redis Cluster.
       */
      url: z
        .string()
        .regex(/^rediss?(\+cluster)?:\/\/\S+$/, 'must be a redis://, rediss:// or redis+cluster:// URL')
        .optional(),
      /** Treat `url` as one node of a Redis Cluster (same as the `redis+cluster://` form). */
      cluster: z.boolean().default(false),
      /** Folder of the embedded server's append-only files; default `<dataDir>/redis`. */
      embeddedDir: z.string().optional(),
      /** Start even though `maxmemory-policy` is not `noeviction` (jobs may be evicted). */
      allowEviction: z.boolean().default(false),
      /** Prefix of every key TaskMaster writes. */
      prefix: z.string().regex(/^[A-Za-z0-9_-]+$/).default('tm'),
    })
    .default({ allowEviction: false, prefix: 'tm', cluster: false }),

  api: z
    .strictObject({
      host: z.string().default('127.0.0.1'),
      port: z.number().int().min(0).max(65535).default(3000),
      /** Largest request body accepted, in bytes; more gets 413. */
      payloadLimitBytes: z.number().int().min(1024).default(512 * 1024),
      /** Most jobs in one bulk submission. */
      bulkLimit: z.number().int().min(1).max(10_000).default(1000),
      /** API keys; when empty the first start generates one. */
      keys: z.array(apiKeySchema).default([]),
      /** Submission rate limit of each key, in jobs (a bulk of 50 takes 50). */
      rateLimit: rateLimitSchema.default({ perSecond: 1000, burst: 2000 }),
      /** A request body not received in full within this long gets 408. */
      bodyTimeoutMs: z.number().int().min(100).default(10 * SECOND),
      /** A request's headers not received in full within this long close the connection. */
      headersTimeoutMs: z.number().int().min(100).default(20 * SECOND),
    })
    .default({
      host: '127.0.0.1',
      port: 3000,
      payloadLimitBytes: 512 * 1024,
      bulkLimit: 1000,
      keys: [],
      rateLimit: { perSecond: 1000, burst: 2000 },
      bodyTimeoutMs: 10 * SECOND,
      headersTimeoutMs: 20 * SECOND,
    }),

  /** Declared queues; `default` always exists. */
  queues: z
    .record(z.string().regex(QUEUE_NAME), queueSchema)
    .default(() => ({ default: queueSchema.parse({}) }))
    .superRefine((queues, ctx) => {
      const owner = new Map<string, string>();
      for (const [name, queue] of Object.entries(queues)) {
        for (const type of queue.types) {
          const earlier = owner.get(type);
          if (earlier) ctx.addIssue({ code: 'custom', path: [name, 'types'], message: `job type ${type} is routed to both ${earlier} and ${name}` });
          owner.set(type, name);
        }
      }
    }),

  worker: z
    .strictObject({
      /** Queues this process works on; default all declared queues. */
      queues: z.array(z.string().regex(QUEUE_NAME)).optional(),
      /**
       * How long a stopping worker lets running jobs finish before aborting
       * them; aborted jobs go back to wait without using a retry.
       */
      drainTimeoutMs: z.number().int().min(0).default(30 * SECOND),
      /**
       * BullMQ's job lock: a job whose lock is not renewed within this time is
       * taken for stalled and run again (a worker that died lets go after about
       * this long). Locks are renewed from a thread of their own (the lock
       * keeper), so a handler blocking the event loop keeps its job's lock,
       * up to the job's timeout plus this long.
       */
      lockDurationMs: z.number().int().min(100).default(30 * SECOND),
      /** How often workers look for jobs whose worker died (expired lock). */
      stalledIntervalMs: z.number().int().min(100).default(30 * SECOND),
      /**
       * How many times a job may lose its worker (crash, kill) before it fails
       * for good: a job that keeps killing its worker is likely the cause.
       */
      maxStalledCount: z.number().int().min(0).default(3),
      /**
       * How often each worker's Redis connections must answer a probe; one that
       * stays silent this long while Redis answers others is replaced.
       */
      watchdogIntervalMs: z.number().int().min(1000).default(15 * SECOND),
    })
    .default({
      drainTimeoutMs: 30 * SECOND,
      lockDurationMs: 30 * SECOND,
      stalledIntervalMs: 30 * SECOND,
      maxStalledCount: 3,
      watchdogIntervalMs: 15 * SECOND,
    }),

  /** Defaults for every job, below a job type's own and a job's own options. */
  defaults: z
    .strictObject({
      priority: z.enum(PRIORITIES).default(DEFAULT_PRIORITY),
      retries: z.number().int().min(0).max(100).default(DEFAULT_RETRIES),
      /** First retry delay; each later one doubles. Ignored when `backoff` is set. */
      backoffMs: z.number().int().min(1).default(DEFAULT_BACKOFF_MS),
      /** A whole backoff policy (fixed, exponential or list, cap, jitter) for every job. */
      backoff: backoffPolicySchema.optional(),
      timeoutMs: z.number().int().min(1).default(5 * MINUTE),
    })
    .default({
      priority: DEFAULT_PRIORITY,
      retries: DEFAULT_RETRIES,
      backoffMs: DEFAULT_BACKOFF_MS,
      timeoutMs: 5 * MINUTE,
    }),

  retention: z
    .strictObject({
      completedAgeMs: z.number().int().min(0).default(24 * HOUR),
      completedCount: z.number().int().min(0).default(10_000),
      /** BullMQ's failed set is cleaned of jobs older than this; jobs that fail for good move on to the DLQ (see `dlqAgeMs`). */
      failedAgeMs: z.number().int().min(0).default(7 * DAY),
      /** How long a DLQ entry is kept. */
      dlqAgeMs: z.number().int().min(0).default(30 * DAY),
      /** How long the record of a cancelled job is kept. */
      cancelledAgeMs: z.number().int().min(0).default(7 * DAY),
      /** How often retention runs, so idle queues are cleaned too. */
      sweepIntervalMs: z.number().int().min(100).default(1 * MINUTE),
    })
    .default({
      completedAgeMs: 24 * HOUR,
      completedCount: 10_000,
      failedAgeMs: 7 * DAY,
      dlqAgeMs: 30 * DAY,
      cancelledAgeMs: 7 * DAY,
      sweepIntervalMs: 1 * MINUTE,
    }),

  /**
   * Circuit breakers, one per downstream a job type names. Shared by every
   * process through Redis.
   */
  breakers: z
    .strictObject({
      /**
       * Failures within `windowMs` that open a breaker, however many jobs
       * succeeded. Unset by default: a busy downstream with a few failing
       * jobs is not down. Set it for downstreams that see few jobs.
       */
      failureThreshold: z.number().int().min(1).optional(),
      /** The share of failed jobs in the window that opens a breaker... */
      failureRate: z.number().min(0).max(1).default(0.5),
      /** ...once at least this many jobs ran in the window. */
      minRequests: z.number().int().min(1).default(20),
      /** Length of the window failures are counted in. */
      windowMs: z.number().int().min(100).default(30 * SECOND),
      /** How long an open breaker waits before letting probes through. */
      openMs: z.number().int().min(50).default(10 * SECOND),
      /** Probe jobs let through at once while half-open. */
      halfOpenProbes: z.number().int().min(1).default(1),
      /** A probe not heard from within this is presumed lost and another is let through. */
      probeTimeoutMs: z.number().int().min(100).default(1 * MINUTE),
      /** Deferred jobs come back spread over this much after the breaker's next probe time. */
      deferSpreadMs: z.number().int().min(0).default(2 * SECOND),
    })
    .default({
      failureRate: 0.5,
      minRequests: 20,
      windowMs: 30 * SECOND,
      openMs: 10 * SECOND,
      halfOpenProbes: 1,
      probeTimeoutMs: 1 * MINUTE,
      deferSpreadMs: 2 * SECOND,
    }),

  plugins: z
    .strictObject({
      /**
       * Folders to load your plugins from, besides the built-in ones. Watched
       * folders that do not exist are created at start, so a plugin written
       * there later (`taskmaster new-plugin` writes into the first) is served
       * without a restart.
       */
      dirs: z.array(z.string()).default([DEFAULT_PLUGIN_DIR]),
      /** Load the built-in plugins of `./plugins`. */
      builtins: z.boolean().default(true),
      /** Settings handed to each plugin as `ctx.config`, keyed by plugin name. */
      settings: z.record(z.string(), z.unknown()).default({}),
      /** npm packages to load as plugins, resolved from the working directory. */
      packages: z.array(z.string().min(1)).default([]),
      /** Watch the plugin folders and reload when a file changes (no restart needed). */
      watch: z.boolean().default(true),
      /** Quiet time after the last file change before a watched folder is reloaded. */
      watchDebounceMs: z.number().int().min(0).default(300),
      /**
       * How long jobs already running on a replaced or removed plugin version may
       * finish on the old code; past it they are aborted through their signal and
       * run again on the new version without using up a retry.
       */
      drainTimeoutMs: z.number().int().min(0).default(30 * SECOND),
      /** How long a job whose type no plugin provides waits before it is looked at again. */
      missingHandlerRecheckMs: z.number().int().min(100).default(5 * SECOND),
      /**
       * The largest plugin version (its files, `node_modules` left out) whose
       * files are kept in Redis, so that any process on any machine can roll
       * back to it. A larger version is not kept there (a warning says so) and
       * rolls back only where a local copy is kept under `dataDir`.
       */
      keepFilesMaxBytes: z.number().int().min(0).default(2 * 1024 * 1024),
    })
    .default({
      dirs: [DEFAULT_PLUGIN_DIR],
      builtins: true,
      settings: {},
      packages: [],
      watch: true,
      watchDebounceMs: 300,
      drainTimeoutMs: 30 * SECOND,
      missingHandlerRecheckMs: 5 * SECOND,
      keepFilesMaxBytes: 2 * 1024 * 1024,
    }),

  outbound: z
    .strictObject({
      /**
       * What plugins may reach although it is loopback, private, link-local,
       * CGNAT or otherwise special (refused by default): CIDRs (`10.0.0.0/8`,
       * `::1/128`), addresses (`127.0.0.1`), host names (`localhost`) or
       * `*.suffix` (`*.svc.cluster.local`). A host name listed here is trusted
       * whatever it resolves to.
       */
      allow: z.array(z.string().refine(isAllowEntry, 'must be a CIDR, an IP address, a host name or *.suffix')).default([]),
    })
    .default({ allow: [] }),

  secrets: z
    .strictObject({
      /**
       * 32 random bytes, base64 (`openssl rand -base64 32`), that encrypt
       * payload fields marked `secret()` in Redis (AES-256-GCM). Every
       * process must have the same one. Env: `TASKMASTER_SECRET_KEY`.
       * Without it, jobs with secret fields are refused.
       */
      key: z
        .string()
        .refine((k) => Buffer.from(k, 'base64').length === 32, 'must be 32 bytes, base64-encoded')
        .optional(),
    })
    .default({}),

  audit: z
    .strictObject({
      /** Audit entries kept at most; the oldest are dropped first. */
      maxEntries: z.number().int().min(100).default(100_000),
      /** Audit entries older than this are dropped. */
      retentionMs: z.number().int().min(MINUTE).default(365 * DAY),
    })
    .default({ maxEntries: 100_000, retentionMs: 365 * DAY }),
  metrics: z
    .strictObject({
      /** How often each worker process adds its in-memory counts into Redis. */
      flushIntervalMs: z.number().int().min(100).max(60 * SECOND).default(5 * SECOND),
      /** How long per-minute metrics are kept (at least a day, for the 24-hour charts). */
      retentionMs: z.number().int().min(DAY).default(DAY + 2 * HOUR),
    })
    .default({ flushIntervalMs: 5 * SECOND, retentionMs: DAY + 2 * HOUR }),

  dashboard: z
    .strictObject({
      /** How long a dashboard login lasts without being renewed. */
      sessionTtlMs: z.number().int().min(MINUTE).default(12 * HOUR),
      /** Payloads and results larger than this (bytes of JSON) are cut on the job page. */
      previewBytes: z.number().int().min(256).default(16 * 1024),
    })
    .default({ sessionTtlMs: 12 * HOUR, previewBytes: 16 * 1024 }),

  /**
   * PostgreSQL databases handlers reach as `ctx.db(<name>)`, e.g.
   * `{ "main": { "url": "postgres://app@127.0.0.1:5432/app" } }`.
   */
  databases: z
    .record(
      z.string().regex(/^[a-z][a-z0-9_-]{0,62}$/),
      z.strictObject({
        /** A `postgres://` connection URL. */
        url: z.string().regex(/^postgres(ql)?:\/\//, 'url must start with postgres://'),
        /** Connections this process opens at most. */
        maxConnections: z.number().int().min(1).max(100).default(5),
        /** A statement running longer is cancelled by the server (0: no limit). */
        statementTimeoutMs: z.number().int().min(0).default(0),
      }),
    )
    .default({}),

  scheduler: z
    .strictObject({
      /** Run the schedule loop in this process (every process may; they agree through Redis). */
      enabled: z.boolean().default(true),
      /** How often the loop looks for due slots. */
      tickMs: z.number().int().min(50).max(60 * SECOND).default(SECOND),
      /** A slot older than this when first seen counts as missed (see `missedRuns`). */
      graceMs: z.number().int().min(SECOND).default(MINUTE),
    })
    .default({ enabled: true, tickMs: SECOND, graceMs: MINUTE }),

  /** Named schedules, written to Redis at every start (see the README's Schedules section). */
  schedules: z.record(z.string().regex(SCHEDULE_NAME), scheduleSpecSchema).default({}),

  reports: z
    .strictObject({
      /** Folder of report files and their work folders; default `<dataDir>/reports`. */
      dir: z.string().optional(),
      /** How long a report file stays downloadable before it is deleted. */
      retentionMs: z.number().int().min(SECOND).default(7 * DAY),
      /** How often a worker process deletes expired report files. */
      sweepIntervalMs: z.number().int().min(SECOND).default(HOUR),
    })
    .default({ retentionMs: 7 * DAY, sweepIntervalMs: HOUR }),

  notifications: z
    .strictObject({
      /** In-app notifications kept per user; the oldest go first. */
      perUserLimit: z.number().int().min(1).max(10_000).default(200),
    })
    .default({ perUserLimit: 200 }),

  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    })
    .default({ level: 'info' }),
});

function isAllowEntry(entry: string): boolean {
  const text = entry.trim();
  return ipaddr.isValidCIDR(text) || ipaddr.isValid(text) || /^(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)*\.?$/i.test(text);
}

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
export { queueSchema, SCOPES, type Scope };
export type QueueConfig = z.infer<typeof queueSchema>;
