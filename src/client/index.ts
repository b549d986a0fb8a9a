/**
 * The typed HTTP client for producers.
 *
 * ```ts
 * const tm = new TaskMasterClient({ baseUrl: 'http://127.0.0.1:3000', apiKey });
 * const { id } = await tm.submit({ type: 'webhook.deliver', payload: { url, body } });
 * const job = await tm.getJob(id);
 * ```
 */
import type { AttemptRecord, JobOptions, JobState, Priority, QueueSummary } from '../core/index.ts';

export type { AttemptRecord, JobOptions, JobState, Priority, QueueSummary };

export interface SubmitRequest<P = unknown> extends JobOptions {
  type: string;
  payload: P;
}

export interface Submitted {
  id: string;
  type: string;
  queue: string;
  state: JobState;
  duplicate: boolean;
}

export interface Job<P = unknown, R = unknown> {
  id: string;
  type: string;
  queue: string;
  state: JobState;
  payload: P;
  options: { priority: Priority; tenant?: string; idempotencyKey?: string; retries: number; timeoutMs: number; delayMs?: number };
  submittedBy?: string;
  attemptsMade: number;
  attempts: AttemptRecord[];
  progress: unknown;
  result?: R;
  error?: string;
  timestamps: { createdAt: number; startedAt?: number; finishedAt?: number };
}

/** The answer to a priority change. */
export interface PriorityChange {
  id: string;
  from: Priority;
  priority: Priority;
  state: 'waiting' | 'delayed';
}

export interface JobType {
  type: string;
  plugin: string;
  version: string;
  hash: string;
  description?: string;
  schema: unknown;
}

/** An error answer of the API: its status and `{ error: { code, message, details } }`. */
export class TaskMasterError extends Error {
  override name = 'TaskMasterError';

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    /** Seconds the server asked to wait (503, 429). */
    readonly retryAfterSec?: number,
  ) {
    super(message);
  }
}

export interface ClientOptions {
  baseUrl: string;
  apiKey: string;
  /** Per request; default 30 s. */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

export class TaskMasterClient {
  private readonly baseUrl: string;
  private readonly fetchImpl: typeof fetch;

  constructor(private readonly options: ClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.fetchImpl = options.fetch ?? fetch;
  }

  /** Stores one job. A duplicate idempotency key returns the first job with `duplicate: true`. */
  submit<P>(job: SubmitRequest<P>): Promise<Submitted> {
    return this.request('POST', '/api/v1/jobs', job);
  }

  /** Stores up to the server's bulk limit at once; one invalid job stores none. */
  async submitBulk(jobs: SubmitRequest[]): Promise<Submitted[]> {
    const { jobs: stored } = await this.request<{ jobs: Submitted[] }>('POST', '/api/v1/jobs/bulk', { jobs });
    return stored;
  }

  getJob<P = unknown, R = unknown>(id: string): Promise<Job<P, R>> {
    return this.request('GET', `/api/v1/jobs/${encodeURIComponent(id)}`);
  }

  /**
   * Changes a waiting or delayed job's priority class (admin scope); it
   * applies at the job's next dispatch. A running or ended job gets 409.
   */
  changePriority(id: string, priority: Priority): Promise<PriorityChange> {
    return this.request('PATCH', `/api/v1/jobs/${encodeURIComponent(id)}`, { priority });
  }

  /** Every queue: waiting per class and top tenants, active, delayed, completed, failed, weights. */
  async queues(): Promise<QueueSummary[]> {
    const { queues } = await this.request<{ queues: QueueSummary[] }>('GET', '/api/v1/queues');
    return queues;
  }

  async jobTypes(): Promise<JobType[]> {
    const { jobTypes } = await this.request<{ jobTypes: JobType[] }>('GET', '/api/v1/job-types');
    return jobTypes;
  }

  /** True when Redis answers and a worker runs. */
  async ready(): Promise<boolean> {
    const response = await this.fetchImpl(`${this.baseUrl}/readyz`, { signal: AbortSignal.timeout(this.timeout) });
    await response.body?.cancel();
    return response.ok;
  }

  /** Any other route, typed by the caller. */
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await this.fetchImpl(this.baseUrl + path, {
      method,
      headers: {
        authorization: `Bearer ${this.options.apiKey}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(this.timeout),
    });
    const text = await response.text();
    const parsed = text ? JSON.parse(text) : undefined;
    if (!response.ok) {
      const error = parsed?.error ?? {};
      const retryAfter = Number(response.headers.get('retry-after'));
      throw new TaskMasterError(
        response.status,
        error.code ?? 'http_error',
        error.message ?? `HTTP ${response.status}`,
        error.details,
        Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined,
      );
    }
    return parsed as T;
  }

  private get timeout(): number {
    return this.options.timeoutMs ?? 30_000;
  }
}
