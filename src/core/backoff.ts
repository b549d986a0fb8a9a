import { SECOND } from './time.ts';

/** Default number of retries after the first run: six runs in all. */
export const DEFAULT_RETRIES = 5;

/** Default first backoff; each later one doubles: 1 s, 2 s, 4 s, 8 s, 16 s. */
export const DEFAULT_BACKOFF_MS = 1 * SECOND;

/**
 * The wait before retry number `retry` (1 for the first retry) with
 * exponential backoff from `baseMs`. With the defaults the five waits add up
 * to 31 s, so a job that always fails reaches its final state about 31 s plus
 * six run times after it first started.
 */
export function exponentialDelayMs(retry: number, baseMs: number): number {
  return baseMs * 2 ** Math.max(0, retry - 1);
}
