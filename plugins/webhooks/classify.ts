import { PermanentError, RetryAfterError } from '../../src/sdk/index.ts';

const RETRYABLE_4XX = new Set([408, 429]);
/** A receiver cannot push a retry further out than this. */
const MAX_RETRY_AFTER_MS = 60 * 60 * 1000;

/**
 * What an HTTP answer means for a delivery: nothing for 2xx; for 408, 429 and
 * 5xx an error that retries (after `Retry-After` when the receiver sent one);
 * for any other status an error that does not.
 */
export function classifyResponse(status: number, retryAfter: string | null, now = Date.now()): Error | undefined {
  if (status >= 200 && status < 300) return undefined;

  const message = `receiver answered ${status}`;
  if (status >= 500 || RETRYABLE_4XX.has(status)) {
    const waitMs = parseRetryAfter(retryAfter, now);
    return waitMs === undefined ? new Error(message) : new RetryAfterError(message, waitMs);
  }
  return new PermanentError(message, { reason: `http_${status}` });
}

/** `Retry-After` as delay-seconds or an HTTP date, in ms; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;

  const seconds = Number(value);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(value) - now;
  if (!Number.isFinite(ms)) return undefined;
  return Math.min(Math.max(0, ms), MAX_RETRY_AFTER_MS);
}
