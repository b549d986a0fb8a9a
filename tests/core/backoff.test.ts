import { describe, expect, it } from 'vitest';
import { backoffDelayMs, backoffPolicySchema, defaultBackoff, totalBackoffMs } from '../../src/core/index.ts';

const waits = (policy: Parameters<typeof backoffDelayMs>[0], n: number) =>
  Array.from({ length: n }, (_, i) => backoffDelayMs(policy, i + 1));

describe('backoff policies', () => {
  it('defaults to 1, 2, 4, 8 and 16 s, 31 s in all', () => {
    expect(waits(defaultBackoff(), 5)).toEqual([1000, 2000, 4000, 8000, 16_000]);
    expect(totalBackoffMs(defaultBackoff(), 5)).toBe(31_000);
  });

  it('waits the same before every retry with a fixed backoff', () => {
    expect(waits({ type: 'fixed', delayMs: 250 }, 4)).toEqual([250, 250, 250, 250]);
  });

  it('grows by its factor with an exponential backoff', () => {
    expect(waits({ type: 'exponential', delayMs: 100, factor: 3 }, 4)).toEqual([100, 300, 900, 2700]);
  });

  it('takes waits from a list and repeats the last one', () => {
    expect(waits({ type: 'list', delaysMs: [5, 50, 500] }, 5)).toEqual([5, 50, 500, 500, 500]);
  });

  it('caps each wait at maxDelayMs', () => {
    expect(waits({ type: 'exponential', delayMs: 1000, maxDelayMs: 3000 }, 4)).toEqual([1000, 2000, 3000, 3000]);
  });

  it('keeps full jitter within [0, wait] and spreads it', () => {
    const samples = Array.from({ length: 2000 }, () => backoffDelayMs({ type: 'fixed', delayMs: 1000, jitter: 'full' }, 1));
    expect(Math.min(...samples)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...samples)).toBeLessThanOrEqual(1000);
    expect(Math.min(...samples)).toBeLessThan(100);
    expect(Math.max(...samples)).toBeGreaterThan(900);
  });

  it('keeps equal jitter within [wait / 2, wait]', () => {
    const samples = Array.from({ length: 2000 }, () =>
      backoffDelayMs({ type: 'exponential', delayMs: 1000, jitter: 'equal' }, 3),
    );
    expect(Math.min(...samples)).toBeGreaterThanOrEqual(2000);
    expect(Math.max(...samples)).toBeLessThanOrEqual(4000);
    expect(Math.max(...samples) - Math.min(...samples)).toBeGreaterThan(1500);
  });

  it('applies the cap before the jitter', () => {
    const policy = { type: 'exponential' as const, delayMs: 1000, maxDelayMs: 1500, jitter: 'full' as const };
    expect(backoffDelayMs(policy, 6, () => 0.999)).toBeLessThanOrEqual(1500);
  });

  it('rejects a list backoff without delays and a factor on a fixed one, naming the field', () => {
    const list = backoffPolicySchema.safeParse({ type: 'list' });
    const fixed = backoffPolicySchema.safeParse({ type: 'fixed', delayMs: 10, factor: 2 });
    expect(list.success).toBe(false);
    expect(list.error?.issues[0].path).toEqual(['delaysMs']);
    expect(fixed.error?.issues[0].path).toEqual(['factor']);
  });
});
