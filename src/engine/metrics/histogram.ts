/**
 * A small fixed histogram of durations. Every process uses the same bucket
 * bounds, so bucket counts written by many processes simply add up in Redis
 * and percentiles can be read from the sum.
 */

/** Upper bounds of the buckets in ms; a last, open bucket holds everything above. */
export const BUCKET_BOUNDS_MS = [
  5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000, 300_000, 1_800_000,
] as const;

/** Number of buckets, the open one included. */
export const BUCKET_COUNT = BUCKET_BOUNDS_MS.length + 1;

/** The bucket a duration falls into. */
export function bucketOf(ms: number): number {
  for (let i = 0; i < BUCKET_BOUNDS_MS.length; i++) {
    if (ms <= BUCKET_BOUNDS_MS[i]) return i;
  }
  return BUCKET_BOUNDS_MS.length;
}

/**
 * The `q` quantile (0..1) of a histogram, interpolated linearly inside its
 * bucket. The open last bucket answers with its lower bound, so a p99 past
 * 30 min reads as 30 min. Undefined for an empty histogram.
 */
export function quantile(counts: readonly number[], q: number): number | undefined {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0) return undefined;

  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    const count = counts[i] ?? 0;
    if (count === 0) continue;
    if (seen + count >= rank) {
      const lower = i === 0 ? 0 : BUCKET_BOUNDS_MS[i - 1];
      if (i >= BUCKET_BOUNDS_MS.length) return lower;
      const upper = BUCKET_BOUNDS_MS[i];
      return lower + ((upper - lower) * Math.max(0, rank - seen)) / count;
    }
    seen += count;
  }
  return BUCKET_BOUNDS_MS[BUCKET_BOUNDS_MS.length - 1];
}

/** Adds `b` into `a`, bucket by bucket. */
export function addInto(a: number[], b: readonly number[]): void {
  for (let i = 0; i < b.length; i++) a[i] = (a[i] ?? 0) + (b[i] ?? 0);
}

export function emptyBuckets(): number[] {
  return new Array<number>(BUCKET_COUNT).fill(0);
}
