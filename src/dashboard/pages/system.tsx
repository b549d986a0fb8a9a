import { Remote } from '../components/remote-json.tsx';
import { ms, time } from '../format.ts';

interface ScheduleView {
  name: string;
  spec: { type: string; cron?: string; timezone?: string; everyMs?: number; enabled?: boolean };
  nextRunAt?: number;
  state?: { lastSlot?: number; lastJobId?: string; runs?: number };
}

interface WorkerPlugins {
  processes?: { id: string; host?: string; pid?: number; queues?: string[]; plugins: { name: string; version: string; hash?: string }[] }[];
}

/** Plugins and versions per worker process, schedules with their next runs, circuit breakers. */
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
              </tr>
            </thead>
            <tbody>
              {(data.processes ?? []).map((w) => (
                <tr key={w.id}>
                  <td>{w.id}</td>
                  <td>{(w.queues ?? []).join(', ')}</td>
                  <td>{w.plugins.map((p) => `${p.name}@${p.version}${p.hash ? ` (${p.hash.slice(0, 8)})` : ''}`).join(', ')}</td>
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
      <Remote<{ breakers?: { downstream: string; state: string; failures?: number; openedAt?: number | null }[] }>
        path="/api/v1/breakers"
        refreshMs={5_000}
        render={(data) => (
          <table data-testid="breakers">
            <thead>
              <tr>
                <th>downstream</th>
                <th>state</th>
                <th>failures</th>
                <th>opened</th>
              </tr>
            </thead>
            <tbody>
              {(data.breakers ?? []).map((b) => (
                <tr key={b.downstream}>
                  <td>{b.downstream}</td>
                  <td>{b.state}</td>
                  <td>{b.failures ?? '–'}</td>
                  <td>{time(b.openedAt ?? undefined)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      />
    </section>
  );
}
