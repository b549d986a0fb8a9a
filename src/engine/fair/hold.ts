/**
 * How a job of a fair queue waits inside BullMQ. Such a job is stored as a
 * BullMQ *delayed* job whose score lies far in the future, so BullMQ never
 * promotes it by itself; the dispatcher moves it to BullMQ's wait list when
 * its turn comes. It stays in BullMQ's own structures the whole time, so
 * get, cancel, depth, history and retention work on it as on any job.
 *
 * BullMQ scores a delayed job `readyAtMs * 4096 + counter`. The delayed set
 * is read in three bands of `at = score / 4096`:
 *
 * | band | at | meaning |
 * |---|---|---|
 * | real | `<= now + REAL_DELAY_LIMIT_MS` | an ordinary BullMQ delayed job (delays are at most a year) |
 * | held | `HOLD_OFFSET_MS + readyAtMs` | waits for `readyAtMs`, not yet in a fair list |
 * | listed | `LISTED_SCORE / 4096` | in its class and tenant's fair list, waiting for its turn |
 *
 * Scores stay below 2^53, where doubles hold every integer, until about
 * 2035; past that, jobs held in the same millisecond may list in either
 * order. A held job left unlisted for over two years would fall into the
 * real band and BullMQ would promote it itself: it still runs.
 */

/** Longest delay a job may ask for (one year), with a day to spare. */
export const REAL_DELAY_LIMIT_MS = 366 * 24 * 3600 * 1000;

/** Added to a held job's ready time: about 3.2 years, beyond any real delay. */
export const HOLD_OFFSET_MS = 100_000_000_000;

/** BullMQ's multiplier of delayed scores. */
const SCORE_UNIT = 0x1000;

/** The score of a job that sits in a fair list: above every held score. */
export const LISTED_SCORE = 2 ** 62;

/** The `delay` option that makes BullMQ store a job held until `delayMs` from now. */
export function heldDelay(delayMs = 0): number {
  return HOLD_OFFSET_MS + delayMs;
}

/** A job's own delay, from a stored BullMQ `delay` option that may carry the hold offset. */
export function ownDelay(delay: number | undefined): number {
  if (!delay) return 0;
  return delay >= HOLD_OFFSET_MS ? delay - HOLD_OFFSET_MS : delay;
}

/** Where a job in BullMQ's delayed set stands, from its score. */
export function delayedBand(score: number, now = Date.now()): 'delayed' | 'waiting' {
  if (score >= LISTED_SCORE) return 'waiting';
  const at = Math.floor(score / SCORE_UNIT);
  if (at <= now + REAL_DELAY_LIMIT_MS) return 'delayed';
  return at - HOLD_OFFSET_MS <= now ? 'waiting' : 'delayed';
}

/** Score bounds of the held band's ready part at `now`, for ZCOUNT. */
export function readyHeldRange(now = Date.now()): [string, number] {
  return [`(${(now + REAL_DELAY_LIMIT_MS + 1) * SCORE_UNIT - 1}`, (HOLD_OFFSET_MS + now + 1) * SCORE_UNIT - 1];
}
