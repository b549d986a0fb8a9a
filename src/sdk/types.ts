import type { BackoffPolicy, Priority } from '../core/index.ts';
import type { Cache, ChildResult, Database, FlowClient, HousekeepingClient, KeyValueStore } from './services.ts';

/** The structured logger handed to plugins (a pino child logger). */
export interface Logger {
  debug(obj: object | string, msg?: string): void;
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
}

/**
 * A payload schema: any zod schema works. TaskMaster only needs `safeParse`,
 * so a plugin may bring its own copy of zod.
 */
export interface PayloadSchema<T = unknown> {
  safeParse(
    data: unknown,
  ): { success: true; data: T } | { success: false; error: { issues: SchemaIssue[] } };
}

export interface SchemaIssue {
  path: PropertyKey[];
  message: string;
}

/** What a handler gets besides its payload. */
export interface HandlerContext {
  /** The job's id; stable across retries, so it makes a good idempotency key downstream. */
  jobId: string;
  /** The job type, e.g. `webhook.deliver`. */
  type: string;
  /** 1 for the first run, 2 for the first retry, and so on. */
  attempt: number;
  /** Fires when the attempt times out, the job is cancelled or the worker shuts down. */
  signal: AbortSignal;
  /** Logger scoped to this job: carries queue, jobId, type and attempt. */
  log: Logger;
  /** Reports progress: a number from 0 to 100, or an object. */
  progress(value: number | object): Promise<void>;
  tenant?: string;
  idempotencyKey?: string;
  /** This plugin's settings from the configuration (`plugins.settings.<name>`). */
  config: unknown;
  /** The outbound HTTP client every plugin must use to call a URL. */
  http: HttpClient;
  /** Files this job produces (report outputs), kept for the configured retention. */
  files: FileStore;
  /** Per-user in-app notifications, readable through the API. */
  notifications: NotificationStore;
  /** A small value kept on the job across retries, so a retry can resume. */
  checkpoint: Checkpoint;
  /**
   * Submits a follow-up job, validated like any other submission. Give it an
   * idempotency key derived from `jobId` so that a retry does not submit twice.
   * The tenant defaults to this job's.
   */
  submit(job: FollowUpJob): Promise<{ id: string; duplicate: boolean }>;
  /** A PostgreSQL database from `databases.<name>`; throws a PermanentError for an unknown name. */
  db(name: string): Database;
  /** This plugin's own key-value store. */
  kv: KeyValueStore;
  /** Cache entries for other services to read. */
  cache: Cache;
  /** Stores jobs with dependencies. */
  flow: FlowClient;
  /** The results of this job's finished children (a flow's parent job). */
  children(): Promise<ChildResult[]>;
  /** Removes TaskMaster's own data past its configured retention. */
  housekeeping: HousekeepingClient;
}

/** A job submitted from a handler: the same fields as `POST /api/v1/jobs`. */
export interface FollowUpJob {
  type: string;
  payload: unknown;
  idempotencyKey?: string;
  priority?: Priority;
  queue?: string;
  delayMs?: number;
  retries?: number;
  timeoutMs?: number;
  tenant?: string;
}

/**
 * State a handler saves while it works (e.g. `{ chunksDone: 4 }`), stored on
 * the job itself: it survives retries and goes with the job's retention.
 */
export interface Checkpoint {
  /** The last saved value, or undefined on a fresh job. */
  get<T = unknown>(): Promise<T | undefined>;
  /** Saves a JSON-serialisable value, replacing the previous one. */
  set(value: unknown): Promise<void>;
}

/** A file kept by the file store. */
export interface StoredFile {
  id: string;
  /** The file name offered on download, e.g. `sales.xlsx`. */
  name: string;
  contentType: string;
  sizeBytes: number;
  /** Where it lives on this machine's disk. */
  path: string;
  /** The job that produced it. */
  jobId?: string;
  createdAt: number;
  /** After this (ms since epoch) the file is gone. */
  expiresAt: number;
}

/** A file being written: write to `path`, then `commit` it (or `discard`). */
export interface FileDraft {
  id: string;
  path: string;
  /** Makes the file visible (and downloadable) until its retention ends. */
  commit(): Promise<StoredFile>;
  discard(): Promise<void>;
}

/**
 * Storage for files jobs produce, such as reports. Files live in the
 * configured folder and are downloadable through `GET /api/v1/reports/:id`
 * until `reports.retentionMs` has passed.
 */
export interface FileStore {
  /** Starts a new file; nothing is visible before `commit`. */
  create(options: { name: string; contentType: string }): Promise<FileDraft>;
  /** A committed file, or undefined when unknown, expired or not on this machine. */
  get(id: string): Promise<StoredFile | undefined>;
  /**
   * A folder for this job's intermediate work (e.g. finished chunks), the same
   * on every attempt on this machine; removed with `clearWorkDir` or by the
   * retention sweep.
   */
  workDir(): Promise<string>;
  clearWorkDir(): Promise<void>;
}

/** An in-app notification as stored and as the API returns it. */
export interface InAppNotification {
  id: string;
  userId: string;
  title: string;
  body?: string;
  link?: string;
  data?: unknown;
  createdAt: number;
  read: boolean;
}

/** Per-user notifications in Redis: newest first, capped, read or unread. */
export interface NotificationStore {
  /**
   * Stores a notification and tells live listeners. Storing an id the user
   * already has changes nothing and returns `stored: false`.
   */
  push(
    userId: string,
    notification: Omit<InAppNotification, 'userId' | 'createdAt' | 'read'>,
  ): Promise<{ notification: InAppNotification; stored: boolean }>;
}

/** Options of an outbound request, on top of `fetch`'s own. */
export interface HttpRequestInit extends RequestInit {
  /** Abort the request after this long (default 10 s). */
  timeoutMs?: number;
  /** Redirects to follow, each checked like the first URL (default 5; 0 returns the 3xx). */
  maxRedirects?: number;
  /**
   * Go through the host's circuit breaker (default true). False for a
   * request that must reach the host whatever its breaker says, such as a
   * health check; its outcome is not counted either.
   */
  breaker?: boolean;
}

/**
 * `fetch` with TaskMaster's outbound rules: a timeout, redirects followed by
 * hand so that every hop is checked, and the job's signal linked in.
 *
 * Every request also goes through a circuit breaker per host (`name:port`),
 * shared by all workers: network errors, timeouts and 5xx/408/429 answers
 * (those `failureForStatus` retries) count as the host's failures. While a
 * host's breaker is open its requests are not sent: `fetch` throws a
 * `BreakerOpenError`, and the worker puts the job back without using a retry
 * until the breaker lets a probe through. Let that error propagate (or keep
 * it as the `cause` of your own).
 */
export interface HttpClient {
  fetch(url: string | URL, init?: HttpRequestInit): Promise<Response>;
}

export type Handler<T> = (payload: T, ctx: HandlerContext) => unknown | Promise<unknown>;

/** Defaults a job type sets for its jobs; a job's own options win. */
export interface JobTypeDefaults {
  queue?: string;
  priority?: Priority;
  retries?: number;
  /** Waits between retries: fixed, exponential or a list, with a cap and jitter. */
  backoff?: BackoffPolicy;
  timeoutMs?: number;
}

/** Why a fallback runs, as it is told. */
export interface FallbackCause {
  /** `retries_exhausted`, a `PermanentError` reason, or `breaker_open`. */
  reason: string;
  /** The last attempt's error, when an attempt ran. */
  error?: { name: string; message: string };
}

/**
 * What to do when a job cannot be done: after its last retry fails, or when
 * its downstream's breaker has stayed open longer than `afterOpenMs`. Either
 * submit another job type (its payload from `payload`, else the same one) or
 * run a function; the job then completes with the fallback's outcome, and its
 * history shows the fallback ran. A fallback that throws sends the job to the DLQ.
 */
export type JobTypeFallback<T = any> = (
  | { type: string; payload?: (payload: T, cause: FallbackCause) => unknown }
  | { run: (payload: T, ctx: HandlerContext, cause: FallbackCause) => unknown | Promise<unknown> }
) & {
  /** Also fall back when the breaker has deferred the job for this long (default: never). */
  afterOpenMs?: number;
};

export interface JobTypeDefinition<T = any> {
  schema: PayloadSchema<T>;
  handler: Handler<T>;
  defaults?: JobTypeDefaults;
  description?: string;
  /**
   * Run this job type's handler in a worker thread of its own instead of the
   * worker's event loop: for CPU-bound or untrusted code. A handler that blocks
   * or crashes its thread cannot stall other jobs or make them look stalled.
   * Everything in the context works the same; `ctx.config` and the payload
   * are copied into the thread, and the result must be plain data.
   */
  isolated?: boolean;
  /**
   * The downstream service a job depends on, e.g. the host a webhook goes
   * to. Jobs naming the same downstream share a circuit breaker: after
   * repeated failures they are deferred, without an attempt and without
   * using a retry, until a probe gets through. Undefined: each `ctx.http`
   * request goes through the breaker of its host instead; defined: the
   * job-level breaker replaces those for this job type's requests.
   */
  downstream?: (payload: T) => string | undefined;
  fallback?: JobTypeFallback<T>;
}

/** What `onInit` and `onShutdown` get. */
export interface PluginContext {
  config: unknown;
  log: Logger;
}

export interface PluginDefinition {
  /** Unique among loaded plugins: lower-case letters, digits, dashes. */
  name: string;
  /** The plugin's version, recorded on every attempt it runs (semver advised). */
  version: string;
  /** Job types by name, e.g. `{ 'webhook.deliver': { schema, handler } }`. */
  jobs: Record<string, JobTypeDefinition>;
  /** Runs once before any job of this plugin; a throw here rejects the plugin. */
  onInit?(ctx: PluginContext): void | Promise<void>;
  /** Runs once after the plugin's last job, when it is unloaded or the worker stops. */
  onShutdown?(ctx: PluginContext): void | Promise<void>;
}
