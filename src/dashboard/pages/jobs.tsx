import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, query } from '../api.ts';
import { count, time } from '../format.ts';
import { href, navigate } from '../router.ts';
import type { JobPage } from '../types.ts';

const STATES = ['waiting', 'delayed', 'active', 'completed', 'failed'];
const PRIORITIES = ['', 'critical', 'high', 'normal', 'low'];
const JOB_ID = /^[a-z][a-z0-9-]*\.[A-Za-z0-9_-]+$/;

/**
 * Jobs of one queue and state, filtered by type, tenant, priority and text,
 * a page at a time; the search box also finds a job by id or idempotency key.
 */
export function JobsPage({ params }: { params: URLSearchParams }) {
  const filters = {
    queue: params.get('queue') ?? 'default',
    state: params.get('state') ?? 'waiting',
    type: params.get('type') ?? '',
    tenant: params.get('tenant') ?? '',
    priority: params.get('priority') ?? '',
    q: params.get('q') ?? '',
    key: params.get('key') ?? '',
  };
  const cursor = params.get('cursor') ?? '';
  const [page, setPage] = useState<JobPage | null>(null);
  const [queues, setQueues] = useState<string[]>([filters.queue]);
  const [error, setError] = useState('');

  useEffect(() => {
    api<{ queues: { queue: string }[] }>('GET', '/api/v1/metrics').then(
      (m) => setQueues(m.queues.map((q) => q.queue)),
      () => undefined,
    );
  }, []);

  useEffect(() => {
    setError('');
    setPage(null);
    api<JobPage>('GET', `/api/v1/jobs${request(filters, cursor)}`).then(setPage, (err) =>
      setError(err instanceof ApiError ? err.message : String(err)),
    );
  }, [params.toString()]);

  const apply = (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    const values = Object.fromEntries([...form.entries()].map(([k, v]) => [k, String(v).trim()]));
    navigate('/jobs', values);
  };

  return (
    <section>
      <h1>Jobs</h1>
      <form class="filters" onSubmit={apply}>
        <select name="queue" value={filters.queue}>
          {queues.map((q) => (
            <option key={q}>{q}</option>
          ))}
        </select>
        <select name="state" value={filters.state}>
          {STATES.map((s) => (
            <option key={s}>{s}</option>
          ))}
        </select>
        <input name="type" placeholder="job type" value={filters.type} />
        <input name="tenant" placeholder="tenant" value={filters.tenant} />
        <select name="priority" value={filters.priority}>
          {PRIORITIES.map((p) => (
            <option key={p} value={p}>
              {p || 'any priority'}
            </option>
          ))}
        </select>
        <input name="q" placeholder="job id or payload text" value={filters.q} />
        <input name="key" placeholder="idempotency key" value={filters.key} />
        <button type="submit">Search</button>
      </form>

      {error && <p class="error">{error}</p>}
      {!page && !error && <p class="muted">Loading…</p>}
      {page && (
        <>
          <table data-testid="jobs">
            <thead>
              <tr>
                <th>id</th>
                <th>type</th>
                <th>state</th>
                <th>priority</th>
                <th>tenant</th>
                <th>created</th>
                <th>attempts</th>
                <th>last error</th>
              </tr>
            </thead>
            <tbody>
              {page.jobs.map((job) => (
                <tr key={job.id}>
                  <td>
                    <a href={href(`/jobs/${encodeURIComponent(job.id)}`)}>{job.id}</a>
                  </td>
                  <td>{job.type}</td>
                  <td>{job.state}</td>
                  <td>{job.priority ?? '–'}</td>
                  <td>{job.tenant ?? '–'}</td>
                  <td>{time(job.createdAt)}</td>
                  <td>{job.attemptsMade}</td>
                  <td class="clip">{job.error ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <p class="muted">
            {page.jobs.length ? `${page.jobs.length} shown` : 'No jobs match'}; {count(page.scanned)} looked at.
            {cursor && (
              <>
                {' '}
                <a href={href('/jobs', { ...filters })}>First page</a>
              </>
            )}
            {page.next && (
              <>
                {' '}
                <a data-testid="next-page" href={href('/jobs', { ...filters, cursor: page.next })}>
                  Next page
                </a>
              </>
            )}
          </p>
        </>
      )}
    </section>
  );
}

function request(f: Record<string, string>, cursor: string): string {
  if (f.key) return query({ idempotencyKey: f.key, tenant: f.tenant });
  if (f.q && JOB_ID.test(f.q) && f.q.startsWith(`${f.queue}.`)) return query({ id: f.q });
  return query({ queue: f.queue, state: f.state, type: f.type, tenant: f.tenant, priority: f.priority, q: f.q, cursor });
}
