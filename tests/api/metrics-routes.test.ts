import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startDashboardServer } from '../helpers/dashboard.ts';
import { ADMIN_KEY, api, ROOT, type TestServer } from '../helpers/server.ts';
import { waitFor } from '../helpers/runtime.ts';

/** Prometheus's own checker: on the PATH, or unpacked by .ci/run into .tools/. */
function findPromtool(): string | undefined {
  const local = resolve(ROOT, '.tools', 'promtool');
  if (existsSync(local)) return local;
  try {
    return execFileSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}
const promtool = findPromtool();

let server: TestServer;
beforeAll(async () => {
  server = await startDashboardServer(inject('redisUrl'));
  await api(server, 'POST', '/api/v1/jobs/bulk', {
    jobs: [
      { type: 'test.sleep', payload: { ms: 10 } },
      { type: 'test.sleep', payload: { ms: 10 } },
      { type: 'test.flaky', payload: { failures: 5, permanent: true } },
      { type: 'test.noop', payload: {}, delayMs: 3_600_000 },
      { type: 'test.noop', payload: {}, delayMs: 3_600_000 },
    ],
  });
  await waitFor(async () => {
    const { body } = await api(server, 'GET', '/api/v1/metrics');
    const queue = body.queues[0];
    return queue.window.completed === 2 && queue.window.failed === 1 && queue.depth.dlq === 1;
  });
});
afterAll(async () => {
  await server?.stop();
});

async function scrape(): Promise<string> {
  const response = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toContain('text/plain');
  return response.text();
}

describe('metrics routes', () => {
  it('returns depth, rates and percentiles per queue and job type as JSON', async () => {
    const { body } = await api(server, 'GET', '/api/v1/metrics?rangeMs=86400000');
    const queue = body.queues[0];

    expect(body.stepMs).toBe(600_000);
    expect(queue.depth).toEqual({ waiting: 0, delayed: 2, active: 0, completed: 2, failed: 0, dlq: 1, cancelled: 0 });
    expect(queue.window.failureRate).toBeCloseTo(1 / 3);
    expect(queue.types.map((t: { type: string }) => t.type)).toEqual(['test.flaky', 'test.sleep']);
    expect(queue.series.t).toHaveLength(144);
  });

  it('returns the depth of each job type, DLQ included', async () => {
    const byType = await waitFor(async () => {
      const { body } = await api(server, 'GET', '/api/v1/metrics');
      const depth = body.queues[0].depthByType;
      return depth.types['test.flaky']?.dlq === 1 ? depth : undefined;
    });

    expect(byType.estimated).toEqual([]);
    expect(byType.types).toEqual({
      'test.flaky': { waiting: 0, delayed: 0, active: 0, dlq: 1 },
      'test.noop': { waiting: 0, delayed: 2, active: 0, dlq: 0 },
    });
    const only = await api(server, 'GET', '/api/v1/metrics?type=test.noop');
    expect(Object.keys(only.body.queues[0].depthByType.types)).toEqual(['test.noop']);
  });

  it('serves Prometheus counters, gauges and histograms', async () => {
    const text = await scrape();

    expect(text).toContain('taskmaster_jobs_completed_total{queue="default",type="test.sleep"} 2');
    expect(text).toContain('taskmaster_jobs_failed_total{queue="default",type="test.flaky"} 1');
    expect(text).toContain('taskmaster_queue_jobs{queue="default",state="failed"} 0');
    expect(text).toContain('taskmaster_queue_jobs{queue="default",state="dlq"} 1');
    const states = [...text.matchAll(/^taskmaster_queue_jobs\{queue="default",state="\w+"\} (\d+)$/gm)];
    expect(states.reduce((sum, m) => sum + Number(m[1]), 0)).toBe(5);
    expect(text).toContain('taskmaster_job_type_jobs{queue="default",type="test.noop",state="delayed"} 2');
    expect(text).toContain('taskmaster_job_type_jobs{queue="default",type="test.flaky",state="dlq"} 1');
    expect(text).toMatch(/taskmaster_job_run_seconds_bucket\{queue="default",type="test.sleep",le="\+Inf"\} 2/);
    expect(text).toMatch(/taskmaster_job_run_seconds_count\{queue="default",type="test.sleep"\} 2/);
  });

  it.skipIf(!promtool)('passes promtool check metrics', async () => {
    const text = await scrape();
    const output = execFileSync(promtool!, ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(output.trim()).toBe('');
  });

  it('needs a key to scrape', async () => {
    const response = await fetch(`${server.url}/metrics`);
    expect(response.status).toBe(401);
  });
});
