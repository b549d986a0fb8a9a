import { PermanentError, RetryAfterError } from '../core/errors.ts';

/** The longest wait a `Retry-After` header may ask for: one hour. */
const MAX_RETRY_AFTER_MS = 60 * 60 * 1000;

/**
 * Reads a `Retry-After` header (delay-seconds or an HTTP date) as a delay in
 * ms, capped at one hour. Undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;

  const seconds = Number(value);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(value) - now;
  if (!Number.isFinite(ms)) return undefined;
  return Math.min(Math.max(0, ms), MAX_RETRY_AFTER_MS);
}

/**
 * What an HTTP status from a provider means for a job: undefined for 2xx; a
 * retryable error for 408, 429 and 5xx (a `RetryAfterError` when the provider
 * said when); a `PermanentError` with reason `http_<status>` for the rest.
 *
 * `what` names the other side in the message, e.g. `SMS provider`.
 */
export function failureForStatus(
  status: number,
  retryAfter: string | null | undefined,
  what = 'server',
): Error | undefined {
  if (status >= 200 && status < 300) return undefined;

  const message = `${what} answered ${status}`;
  if (isRetryableStatus(status)) {
    const waitMs = parseRetryAfter(retryAfter);
    return waitMs === undefined ? new Error(message) : new RetryAfterError(message, waitMs);
  }
  return new PermanentError(message, { reason: `http_${status}` });
}

/**
 * Whether a status means the other side is failing or overloaded (5xx, 408,
 * 429): retried by `failureForStatus`, and counted against the host's
 * breaker by `ctx.http`.
 */
export function isRetryableStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}
