import type { Priority } from '../core/index.ts';

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
}

/** Options of an outbound request, on top of `fetch`'s own. */
export interface HttpRequestInit extends RequestInit {
  /** Abort the request after this long (default 10 s). */
  timeoutMs?: number;
  /** Redirects to follow, each checked like the first URL (default 5; 0 returns the 3xx). */
  maxRedirects?: number;
}

/**
 * `fetch` with TaskMaster's outbound rules: a timeout, redirects followed by
 * hand so that every hop is checked, and the job's signal linked in.
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
  timeoutMs?: number;
}

export interface JobTypeDefinition<T = any> {
  schema: PayloadSchema<T>;
  handler: Handler<T>;
  defaults?: JobTypeDefaults;
  description?: string;
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
