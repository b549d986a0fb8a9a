import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.ts';
import { Chart } from '../components/chart.tsx';
import { count, ms, percent, rate } from '../format.ts';
import { href } from '../router.ts';
import type { MetricsSnapshot, QueueMetrics } from '../types.ts';

const HOUR = 3_600_000;

/**
 * Every queue with its depth, rate, failure rate and time in queue, live over
 * server-sent events, with charts of the last hour or the last 24 hours.
 */
export function OverviewPage() {
  const [live, setLive] = useState<MetricsSnapshot | null>(null);
  const [range, setRange] = useState(HOUR);
  const [history, setHistory] = useState<MetricsSnapshot | null>(null);
  const [status, setStatus] = useState('connecting');

  // 1. Live figures: the server pushes a snapshot every two seconds.
  useEffect(() => {
    api<MetricsSnapshot>('GET', '/api/v1/metrics').then(setLive, () => undefined);
    const source = new EventSource('/api/v1/stream');
    source.addEventListener('metrics', (e) => {
      setLive(JSON.parse((e as MessageEvent).data));
      setStatus('live');
    });
    source.addEventListener('unavailable', () => setStatus('storage unavailable'));
    source.onerror = () => setStatus('reconnecting');
    return () => source.close();
  }, []);

  // 2. Chart data for the chosen range; the hour comes with the live figures.
  useEffect(() => {
    if (range === HOUR) {
      setHistory(null);
      return;
    }
    const load = () => api<MetricsSnapshot>('GET', `/api/v1/metrics?rangeMs=${range}`).then(setHistory, () => undefined);
    void load();
    const timer = setInterval(load, 60_000);
    return () => clearInterval(timer);
  }, [range]);

  if (!live) return <p class="muted">Loading metrics…</p>;
  const charted = history ?? live;

  return (
    <section>
      <h1>
        Queues <small class="muted" data-testid="live-status">{status}</small>
      </h1>
      <table data-testid="queues">
        <thead>
          <tr>
            <th>queue</th>
            <th>waiting</th>
            <th>delayed</th>
            <th>active</th>
            <th title="In BullMQ's failed set, not yet moved to the DLQ (normally 0)">failed</th>
            <th title="Jobs that failed for good">DLQ</th>
            <th>rate (last min)</th>
            <th>completed (1 h)</th>
            <th>failure rate (1 h)</th>
            <th>time in queue p50 / p95 / p99</th>
            <th>run time p95</th>
          </tr>
        </thead>
        <tbody>
          {live.queues.map((q) => (
            <QueueRow key={q.queue} q={q} />
          ))}
        </tbody>
      </table>

      <h2>Depth by job type</h2>
      <table data-testid="type-depth">
        <thead>
          <tr>
            <th>queue</th>
            <th>job type</th>
            <th>waiting</th>
            <th>delayed</th>
            <th>active</th>
            <th>DLQ</th>
          </tr>
        </thead>
        <tbody>
          {live.queues.map((q) => (
            <TypeRows key={q.queue} q={q} />
          ))}
        </tbody>
      </table>
      {live.queues.some((q) => q.depthByType?.estimated.length) && (
        <p class="muted">≈ scaled from a sample of 1,000 jobs: that state holds more than that.</p>
      )}

      <div class="toolbar">
        <button type="button" class={range === HOUR ? 'on' : ''} onClick={() => setRange(HOUR)}>
          Last hour
        </button>
        <button type="button" class={range === 24 * HOUR ? 'on' : ''} onClick={() => setRange(24 * HOUR)}>
          Last 24 hours
        </button>
      </div>
      {charted.queues.map((q) => (
        <div class="charts" key={`${q.queue}-${charted.rangeMs}`}>
          <Chart
            title={`${q.queue}: jobs per ${charted.stepMs / 60_000} min`}
            t={q.series.t}
            lines={[
              { label: 'completed', values: q.series.completed, color: '#2a7' },
              { label: 'failed', values: q.series.failed, color: '#c33' },
            ]}
          />
          <Chart
            title={`${q.queue}: p95 ms`}
            t={q.series.t}
            lines={[
              { label: 'time in queue', values: q.series.waitP95, color: '#37c' },
              { label: 'run time', values: q.series.runP95, color: '#a5c' },
            ]}
          />
        </div>
      ))}
    </section>
  );
}

function TypeRows({ q }: { q: QueueMetrics }) {
  const depth = q.depthByType;
  if (!depth) return null;
  const shown = (state: 'waiting' | 'delayed' | 'active' | 'dlq', value: number) => `${depth.estimated.includes(state) ? '≈ ' : ''}${count(value)}`;
  return (
    <>
      {Object.entries(depth.types)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([type, d]) => (
          <tr key={`${q.queue}-${type}`} data-type={`${q.queue}/${type}`}>
            <td>{q.queue}</td>
            <td>
              <a href={href('/jobs', { queue: q.queue, type })}>{type}</a>
            </td>
            <td>{shown('waiting', d.waiting)}</td>
            <td>{shown('delayed', d.delayed)}</td>
            <td>{shown('active', d.active)}</td>
            <td>
              <a href={href('/dlq', { queue: q.queue, type })} data-testid={`${q.queue}/${type}-dlq`}>
                {shown('dlq', d.dlq)}
              </a>
            </td>
          </tr>
        ))}
    </>
  );
}

function QueueRow({ q }: { q: QueueMetrics }) {
  const link = (state: string, value: number | undefined) => (
    <a href={href('/jobs', { queue: q.queue, state })} data-testid={`${q.queue}-${state}`}>
      {count(value)}
    </a>
  );
  return (
    <tr data-queue={q.queue}>
      <td>{q.queue}</td>
      <td>{link('waiting', q.depth.waiting)}</td>
      <td>{link('delayed', q.depth.delayed)}</td>
      <td>{link('active', q.depth.active)}</td>
      <td>{link('failed', q.depth.failed)}</td>
      <td>
        <a href={href('/dlq', { queue: q.queue })} data-testid={`${q.queue}-dlq`}>
          {count(q.depth.dlq)}
        </a>
      </td>
      <td>{rate(q.lastMinute.perMinute)}</td>
      <td data-testid={`${q.queue}-completed`}>{count(q.window.completed)}</td>
      <td>{percent(q.window.failureRate)}</td>
      <td>
        {ms(q.window.waitMs.p50)} / {ms(q.window.waitMs.p95)} / {ms(q.window.waitMs.p99)}
      </td>
      <td>{ms(q.window.runMs.p95)}</td>
    </tr>
  );
}
