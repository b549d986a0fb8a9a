import { Remote } from '../components/remote-json.tsx';
import { ms, time } from '../format.ts';

interface ScheduleView {
  name: string;
  spec: { type: string; cron?: string; timezone?: string; everyMs?: number; enabled?: boolean };
  nextRunAt?: number;
  state?: { lastSlot?: number; lastJobId?: string; runs?: number };
}

interface Rejection {
  entry: string;
  hash?: string;
  problems: string[];
  at: number;
}

interface WorkerPlugins {
  processes?: {
    id: string;
    host?: string;
    pid?: number;
    queues?: string[];
    plugins: { name: string; version: string; hash?: string }[];
    rejected?: Rejection[];
  }[];
}

interface BreakerView {
  downstream: string;
  state: 'closed' | 'open' | 'half-open';
  failures: number;
  requests: number;
  since?: number;
  probeFrom?: number;
  lastSeenAt: number;
}

/**
 * Plugins and versions per worker process (and the plugin sources each
 * refused, with why), schedules with their next runs, circuit breakers.
 */
export function SystemPage() {
  return (
    <section>
      <h1>Worker processes and plugins</h1>
      <Remote<WorkerPlugins>
        path="/api/v1/plugins"
        refreshMs={10_000}
        render={(data) => (
          <table data-testid="workers">
            <thead>
              <tr>
                <th>process</th>
                <th>queues</th>
                <th>plugins</th>
                <th>rejected</th>
              </tr>
            </thead>
            <tbody>
              {(data.processes ?? []).map((w) => (
                <tr key={w.id}>
                  <td>{w.id}</td>
                  <td>{(w.queues ?? []).join(', ')}</td>
                  <td>{w.plugins.map((p) => `${p.name}@${p.version}${p.hash ? ` (${p.hash.slice(0, 8)})` : ''}`).join(', ')}</td>
                  <td data-testid="rejected">
                    {(w.rejected ?? []).length === 0 && <span class="muted">none</span>}
                    {(w.rejected ?? []).map((r) => (
                      <div class="rejected" key={`${r.entry}-${r.hash ?? ''}`}>
                        <strong>{r.entry}</strong>
                        {r.hash && <span class="muted"> ({r.hash.slice(0, 8)})</span>}
                        <span class="muted"> at {time(r.at)}</span>
                        <pre class="error">{r.problems.join('\n')}</pre>
                      </div>
                    ))}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      />

      <h1>Schedules</h1>
      <Remote<{ schedules?: ScheduleView[] }>
        path="/api/v1/schedules"
        refreshMs={30_000}
        render={(data) => (
          <table data-testid="schedules">
            <thead>
              <tr>
                <th>name</th>
                <th>job type</th>
                <th>when</th>
                <th>next run</th>
                <th>last run</th>
              </tr>
            </thead>
            <tbody>
              {(data.schedules ?? []).map((s) => (
                <tr key={s.name}>
                  <td>{s.name}</td>
                  <td>{s.spec.type}</td>
                  <td>{s.spec.cron ? `${s.spec.cron} (${s.spec.timezone ?? 'UTC'})` : `every ${ms(s.spec.everyMs)}`}</td>
                  <td>{s.spec.enabled === false ? 'disabled' : time(s.nextRunAt)}</td>
                  <td>{time(s.state?.lastSlot)}{s.state?.runs ? ` (${s.state.runs} runs)` : ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      />

      <h1>Circuit breakers</h1>
      <Remote<{ breakers: BreakerView[] }>
        path="/api/v1/breakers"
        refreshMs={5_000}
        render={(data) =>
          data.breakers.length === 0 ? (
            <p class="muted" data-testid="no-breakers">
              No job has named a downstream in the last 24 hours.
            </p>
          ) : (
            <table data-testid="breakers">
              <thead>
                <tr>
                  <th>downstream</th>
                  <th>state</th>
                  <th>since</th>
                  <th>failures / results in window</th>
                  <th>probes from</th>
                  <th>last result</th>
                </tr>
              </thead>
              <tbody>
                {data.breakers.map((b) => (
                  <tr key={b.downstream} data-breaker={b.downstream}>
                    <td>{b.downstream}</td>
                    <td>
                      <span class={`state breaker-${b.state}`}>{b.state}</span>
                    </td>
                    <td>{b.since ? time(b.since) : 'not opened in 24 h'}</td>
                    <td>
                      {b.failures} / {b.requests}
                    </td>
                    <td>{b.state === 'open' ? time(b.probeFrom) : '–'}</td>
                    <td>{time(b.lastSeenAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      />
    </section>
  );
}
