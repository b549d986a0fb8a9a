import { describe, expect, it } from 'vitest';
import { bucketOf, BUCKET_BOUNDS_MS, emptyBuckets, quantile } from '../../../src/engine/metrics/histogram.ts';

describe('metrics histogram', () => {
  it('puts a duration into the first bucket whose bound holds it', () => {
    expect(bucketOf(0)).toBe(0);
    expect(bucketOf(5)).toBe(0);
    expect(bucketOf(6)).toBe(1);
    expect(bucketOf(999_999_999)).toBe(BUCKET_BOUNDS_MS.length);
  });

  it('reads percentiles by interpolating inside the bucket', () => {
    const buckets = emptyBuckets();
    buckets[bucketOf(100)] = 50; // 50..100 ms
    buckets[bucketOf(1000)] = 50; // 500..1000 ms

    expect(quantile(buckets, 0.5)).toBe(100);
    expect(quantile(buckets, 0.9)).toBeCloseTo(900);
    expect(quantile(emptyBuckets(), 0.5)).toBeUndefined();
  });

  it('gives the same percentiles for counts summed from two processes', () => {
    const a = emptyBuckets();
    const b = emptyBuckets();
    a[bucketOf(10)] = 90;
    b[bucketOf(5000)] = 10;
    const sum = a.map((n, i) => n + b[i]);

    expect(quantile(sum, 0.5)).toBeLessThanOrEqual(10);
    expect(quantile(sum, 0.95)).toBeGreaterThan(2500);
  });
});
