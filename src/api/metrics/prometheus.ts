import { collectDefaultMetrics, Counter, Gauge, Registry, type Metric } from 'prom-client';
import { BUCKET_BOUNDS_MS, SAMPLE_SIZE, splitSeriesId, type MetricCell, type MetricsReader } from '../../engine/index.ts';

/** This process's own figures (memory, event loop, GC), collected once per process. */
const processRegistry = new Registry();
collectDefaultMetrics({ register: processRegistry, prefix: 'taskmaster_process_' });
// prom-client names a few Node.js gauges `..._total`, which Prometheus keeps for
// counters (promtool rejects them); those few are left out.
for (const metric of processRegistry.getMetricsAsArray()) {
  if (String(metric.type) === 'gauge' && metric.name.endsWith('_total')) processRegistry.removeSingleMetric(metric.name);
}

/**
 * The Prometheus text for a scrape: queue depth as gauges, and job counts and
 * durations summed over every process since the metrics began, as counters
 * and histograms, so `rate()` and `histogram_quantile()` work across processes.
 */
export async function prometheusText(metrics: MetricsReader): Promise<{ contentType: string; body: string }> {
  const [depths, byType, totals] = await Promise.all([metrics.depths(), metrics.depthsByType(), metrics.totals()]);
  const registry = new Registry();

  // 1. Depth, per queue and state.
  const depth = new Gauge({
    name: 'taskmaster_queue_jobs',
    help: 'Jobs in a queue, by state; each job is in one state (failed: in BullMQ\'s failed set, not yet in the DLQ).',
    labelNames: ['queue', 'state'],
    registers: [registry],
  });
  for (const [queue, counts] of Object.entries(depths)) {
    for (const [state, value] of Object.entries(counts)) depth.set({ queue, state }, value);
  }

  // 1b. Depth per job type: exact up to SAMPLE_SIZE jobs in a state, scaled from a sample above.
  const typeDepth = new Gauge({
    name: 'taskmaster_job_type_jobs',
    help: `Jobs of one job type in a queue, by state (waiting, delayed, active, dlq); above ${SAMPLE_SIZE} jobs in a state, scaled from a sample.`,
    labelNames: ['queue', 'type', 'state'],
    registers: [registry],
  });
  for (const [queue, { types }] of Object.entries(byType)) {
    for (const [type, counts] of Object.entries(types)) {
      for (const [state, value] of Object.entries(counts)) typeDepth.set({ queue, type, state }, value);
    }
  }

  // 2. Counters from the totals every worker process adds into.
  const counters = {
    completed: counter(registry, 'taskmaster_jobs_completed_total', 'Jobs that completed.'),
    failed: counter(registry, 'taskmaster_jobs_failed_total', 'Jobs that failed for good (no retry follows).'),
    retried: counter(registry, 'taskmaster_job_retries_total', 'Attempts that failed and were retried.'),
  };
  const series = [...totals].map(([id, cell]) => ({ labels: splitSeriesId(id), cell }));
  for (const { labels, cell } of series) {
    counters.completed.inc(labels, cell.completed);
    counters.failed.inc(labels, cell.failed);
    counters.retried.inc(labels, cell.retried);
  }

  // 3. Histograms of time in queue and run time.
  registry.registerMetric(
    histogram('taskmaster_job_wait_seconds', 'Time from ready to started, per attempt.', series, (c) => [c.wait, c.waitSumMs]),
  );
  registry.registerMetric(
    histogram('taskmaster_job_run_seconds', 'Run time of the handler, per attempt.', series, (c) => [c.run, c.runSumMs]),
  );

  const merged = Registry.merge([registry, processRegistry]);
  return { contentType: merged.contentType, body: await merged.metrics() };
}

function counter(registry: Registry, name: string, help: string): Counter<'queue' | 'type'> {
  return new Counter({ name, help, labelNames: ['queue', 'type'], registers: [registry] });
}

type Labels = { queue: string; type: string };

/**
 * A histogram built from bucket counts that were summed in Redis. prom-client
 * only lets its own Histogram observe single values, so this implements the
 * small `get()` contract its registry serialises (cumulative `_bucket` lines
 * with `le`, then `_sum` and `_count`).
 */
function histogram(
  name: string,
  help: string,
  series: { labels: Labels; cell: MetricCell }[],
  pick: (cell: MetricCell) => [number[], number],
): Metric {
  const get = async () => {
    const values: { metricName: string; labels: Record<string, string | number>; value: number }[] = [];
    for (const { labels, cell } of series) {
      const [buckets, sumMs] = pick(cell);
      let cumulative = 0;
      BUCKET_BOUNDS_MS.forEach((bound, i) => {
        cumulative += buckets[i] ?? 0;
        values.push({ metricName: `${name}_bucket`, labels: { ...labels, le: bound / 1000 }, value: cumulative });
      });
      cumulative += buckets[BUCKET_BOUNDS_MS.length] ?? 0;
      values.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: cumulative });
      values.push({ metricName: `${name}_sum`, labels, value: sumMs / 1000 });
      values.push({ metricName: `${name}_count`, labels, value: cumulative });
    }
    return { name, help, type: 'histogram', values, aggregator: 'sum' };
  };
  return { name, help, type: 'histogram', aggregator: 'sum', get } as unknown as Metric;
}
