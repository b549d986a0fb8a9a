/**
 * Errors a handler throws to steer what happens to its job. The worker matches
 * them by `name`, never by `instanceof` alone, because a handler running in a
 * worker thread, a child process or another copy of the SDK loses the class.
 */

/** The job cannot succeed however often it is tried: fail it now, no retries. */
export class PermanentError extends Error {
  override name = 'PermanentError';

  /** Machine-readable reason kept on the job, e.g. `invalid_payload`. */
  readonly reason: string;

  constructor(message: string, options?: { reason?: string; cause?: unknown }) {
    super(message, { cause: options?.cause });
    this.reason = options?.reason ?? 'permanent';
  }
}

/** Retry this attempt after exactly `retryAfterMs`, instead of the backoff. */
export class RetryAfterError extends Error {
  override name = 'RetryAfterError';

  constructor(
    message: string,
    readonly retryAfterMs: number,
  ) {
    super(message);
  }
}

/** The attempt ran past its `timeoutMs`; its `AbortSignal` has fired. */
export class TimeoutError extends Error {
  override name = 'TimeoutError';

  constructor(readonly timeoutMs: number) {
    super(`job timed out after ${timeoutMs} ms`);
  }
}

/** The job was cancelled while it ran; it ends as cancelled, not failed. */
export class CancelledError extends Error {
  override name = 'CancelledError';

  constructor(message = 'job cancelled') {
    super(message);
  }
}

/**
 * The worker running an attempt stopped (killed, crashed, lost its lock)
 * before the attempt ended. Counted as one failed attempt, retried as usual.
 */
export class WorkerLostError extends Error {
  override name = 'WorkerLostError';

  constructor(readonly worker: string) {
    super(`worker ${worker} stopped during the attempt`);
  }
}

/**
 * An outbound request was not sent: the breaker of the host it goes to is
 * open. The worker puts the job back without using a retry; it runs again
 * once the breaker lets a probe through (after `retryAfterMs` at the least).
 */
export class BreakerOpenError extends Error {
  override name = 'BreakerOpenError';

  constructor(
    readonly downstream: string,
    readonly retryAfterMs: number,
  ) {
    super(`breaker for ${downstream} is open; request not sent`);
  }
}

/** A `BreakerOpenError` in an error's cause chain: a handler may have wrapped it. */
export function breakerRefusal(err: unknown): BreakerOpenError | undefined {
  let e = err as { name?: unknown; cause?: unknown } | undefined;
  for (let depth = 0; e && typeof e === 'object' && depth < 5; depth++) {
    if (e.name === 'BreakerOpenError') return e as BreakerOpenError;
    e = e.cause as typeof e;
  }
  return undefined;
}

export function isPermanentError(err: unknown): boolean {
  return errorName(err) === 'PermanentError';
}

/** The delay a `RetryAfterError` asks for, or undefined for any other error. */
export function retryAfterMs(err: unknown): number | undefined {
  if (errorName(err) !== 'RetryAfterError') return undefined;

  const ms = (err as { retryAfterMs?: unknown }).retryAfterMs;
  return typeof ms === 'number' && Number.isFinite(ms) && ms >= 0 ? ms : undefined;
}

/** The machine-readable reason a `PermanentError` carries, or undefined. */
export function permanentReason(err: unknown): string | undefined {
  if (!isPermanentError(err)) return undefined;
  const reason = (err as { reason?: unknown }).reason;
  return typeof reason === 'string' ? reason : 'permanent';
}

export function errorName(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const name = (err as { name?: unknown }).name;
  return typeof name === 'string' ? name : undefined;
}
