import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, query } from '../api.ts';
import { ActionButton } from '../components/action.tsx';
import { time } from '../format.ts';
import { href, navigate } from '../router.ts';

/** A DLQ entry as GET /api/v1/dlq gives it: the ended job and its replays. */
interface DlqEntry {
  id: string;
  jobId: string;
  queue: string;
  type: string;
  tenant?: string;
  payload: unknown;
  reason: string;
  error?: string;
  endedAt: number;
  replays: { jobId: string; at: number; by?: string; edited: boolean }[];
}

/**
 * The dead-letter queue: review entries (filtered by queue, type, tenant and
 * error text), edit a payload and replay it, or replay everything matching
 * the filter. Each action asks first.
 */
export function DlqPage({ params, admin }: { params: URLSearchParams; admin: boolean }) {
  const filter = {
    queue: params.get('queue') ?? '',
    type: params.get('type') ?? '',
    tenant: params.get('tenant') ?? '',
    error: params.get('error') ?? '',
  };
  const cursor = params.get('cursor') ?? '';
  const [page, setPage] = useState<{ entries: DlqEntry[]; nextCursor?: string } | null>(null);
  const [error, setError] = useState('');
  const [notice, setNotice] = useState('');
  const [editing, setEditing] = useState<string | null>(null);
  const [draft, setDraft] = useState('');

  const load = () =>
    api<{ entries: DlqEntry[]; nextCursor?: string }>('GET', `/api/v1/dlq${query({ ...filter, cursor, limit: 50 })}`).then(
      (d) => setPage(d),
      (err) => setError(err instanceof ApiError && err.status === 404 ? 'this server offers no DLQ routes' : String(err.message ?? err)),
    );
  useEffect(() => {
    void load();
  }, [params.toString()]);

  const edited = () => {
    try {
      return { payload: JSON.parse(draft) };
    } catch {
      throw new ApiError(400, 'invalid_json', 'the edited payload is not valid JSON');
    }
  };
  const apply = (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    navigate('/dlq', Object.fromEntries([...form.entries()].map(([k, v]) => [k, String(v).trim()])));
  };
  const described = Object.entries(filter)
    .filter(([, v]) => v)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');

  return (
    <section>
      <h1>Dead-letter queue</h1>
      <form class="filters" onSubmit={apply}>
        <input name="queue" placeholder="queue" value={filter.queue} />
        <input name="type" placeholder="job type" value={filter.type} />
        <input name="tenant" placeholder="tenant" value={filter.tenant} />
        <input name="error" placeholder="error text" value={filter.error} />
        <button type="submit">Filter</button>
      </form>
      {notice && <p class="notice" data-testid="notice">{notice}</p>}
      {error && <p class="error">{error}</p>}
      {admin && page && page.entries.length > 0 && (
        <div class="toolbar">
          <ActionButton
            label="Replay all matching"
            testId="bulk-replay"
            confirm={`Replay every DLQ entry${described ? ` matching ${described}` : ''} that was not replayed before?`}
            method="POST"
            path="/api/v1/dlq/replay"
            body={() => {
              const named = Object.fromEntries(Object.entries(filter).filter(([, v]) => v));
              return Object.keys(named).length ? { filter: named } : { filter: named, all: true };
            }}
            onDone={(r) => {
              setNotice(`Bulk replay: ${JSON.stringify(r)}`);
              void load();
            }}
          />
        </div>
      )}
      {page && (
        <table data-testid="dlq" class="dlq">
          <colgroup>
            <col class="w-id" />
            <col class="w-type" />
            <col class="w-tenant" />
            <col class="w-time" />
            <col class="w-reason" />
            <col />
            <col class="w-id" />
            <col class="w-action" />
          </colgroup>
          <thead>
            <tr>
              <th>job</th>
              <th>type</th>
              <th>tenant</th>
              <th>failed</th>
              <th>reason</th>
              <th>error</th>
              <th>replays</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {page.entries.flatMap((e) => [
              <tr key={e.id} data-entry={e.id}>
                <td>
                  <a href={href(`/jobs/${encodeURIComponent(e.jobId)}`)}>{e.jobId}</a>
                </td>
                <td>{e.type}</td>
                <td>{e.tenant ?? '–'}</td>
                <td>{time(e.endedAt)}</td>
                <td>{e.reason}</td>
                <td class="clip" title={e.error ?? ''}>
                  {e.error ?? ''}
                </td>
                <td>
                  {e.replays.map((r) => (
                    <a key={r.jobId} href={href(`/jobs/${encodeURIComponent(r.jobId)}`)}>
                      {r.edited ? 'edited ' : ''}
                      {r.jobId}{' '}
                    </a>
                  ))}
                </td>
                <td>
                  {admin && (
                    <button
                      type="button"
                      data-testid={`edit-${e.jobId}`}
                      onClick={() => {
                        setEditing(e.id);
                        setDraft(JSON.stringify(e.payload, null, 2));
                      }}
                    >
                      Edit and replay
                    </button>
                  )}
                </td>
              </tr>,
              editing === e.id && (
                <tr key={`${e.id}-edit`}>
                  <td colSpan={8}>
                    <textarea data-testid="replay-payload" rows={8} value={draft} onInput={(ev) => setDraft(ev.currentTarget.value)} />
                    <ActionButton
                      label="Replay with this payload"
                      testId="replay"
                      confirm={`Replay DLQ entry ${e.id} with the edited payload?`}
                      method="POST"
                      path={`/api/v1/dlq/${encodeURIComponent(e.id)}/replay`}
                      body={edited}
                      onDone={(r) => {
                        setEditing(null);
                        setNotice(`Replayed as ${(r as { jobId?: string }).jobId ?? 'a new job'}`);
                        void load();
                      }}
                    />
                  </td>
                </tr>
              ),
            ])}
          </tbody>
        </table>
      )}
      {page?.nextCursor && (
        <a data-testid="next-page" href={href('/dlq', { ...filter, cursor: page.nextCursor })}>
          Next page
        </a>
      )}
    </section>
  );
}
