import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCAN_LIMIT, type Runtime } from '../../../src/engine/index.ts';
import { startTestRuntime } from '../../helpers/runtime.ts';

const FIXTURES = resolve(import.meta.dirname, '..', '..', 'fixtures', 'plugins');
const JOBS = SCAN_LIMIT + 1_000;

let runtime: Runtime;
beforeAll(async () => {
  // No workers: every job stays waiting.
  runtime = await startTestRuntime({ workers: false, config: { plugins: { dirs: [FIXTURES] } } });
  for (let start = 0; start < JOBS; start += 1_000) {
    await runtime.producer.submitBulk(
      Array.from({ length: 1_000 }, (_, i) => ({
        type: 'test.noop',
        payload: { n: start + i, word: start + i === JOBS - 1 ? 'Zebra' : 'plain' },
        tenant: (start + i) % 2 ? 'odd' : 'even',
      })),
    );
  }
}, 120_000);
afterAll(async () => {
  await runtime?.stop();
});

describe('job browser', () => {
  it('looks at no more than SCAN_LIMIT jobs per filtered page and says where to go on', async () => {
    const first = await runtime.browser.list({ queue: 'default', state: 'waiting', text: 'zebra', budgetMs: 60_000 });
    expect(first).toEqual({ jobs: [], scanned: SCAN_LIMIT, next: String(SCAN_LIMIT) });

    const second = await runtime.browser.list({ queue: 'default', state: 'waiting', text: 'zebra', cursor: first.next, budgetMs: 60_000 });
    expect(second.jobs.map((j) => j.tenant)).toEqual(['odd']);
    expect(second.scanned).toBe(JOBS - SCAN_LIMIT);
    expect(second.next).toBeUndefined();
  });

  it('fills a filtered page from several chunks, in list order', async () => {
    const page = await runtime.browser.list({ queue: 'default', state: 'waiting', tenant: 'even', limit: 200, budgetMs: 60_000 });

    expect(page.jobs).toHaveLength(200);
    expect(page.jobs.every((j) => j.tenant === 'even')).toBe(true);
    expect(page.scanned).toBe(399);
    expect(page.next).toBe('399');
  });

  it('stops looking when its time is up and answers with where to go on', async () => {
    const page = await runtime.browser.list({ queue: 'default', state: 'waiting', text: 'zebra', budgetMs: 0 });

    expect(page.jobs).toEqual([]);
    expect(page.scanned).toBe(500);
    expect(page.next).toBe('500');
  });

  it('reads a deep unfiltered page by rank', async () => {
    const page = await runtime.browser.list({ queue: 'default', state: 'waiting', cursor: String(JOBS - 10), limit: 50 });
    expect(page.jobs).toHaveLength(10);
    expect(page.scanned).toBe(10);
    expect(page.next).toBeUndefined();
  });

  // Runs last: it adds a job at the end of the list.
  it('matches the tenant of the job, not a tenant field inside its payload', async () => {
    await runtime.producer.submit({ type: 'test.noop', payload: { n: -1, tenant: 'ghost' }, tenant: 'real' });
    const near = { queue: 'default', state: 'waiting' as const, cursor: String(JOBS - 5), budgetMs: 60_000 };

    const ghost = await runtime.browser.list({ ...near, tenant: 'ghost' });
    const real = await runtime.browser.list({ ...near, tenant: 'real' });
    expect([ghost.jobs.length, ghost.scanned]).toEqual([0, 6]);
    expect(real.jobs.map((j) => j.tenant)).toEqual(['real']);
  });
});

