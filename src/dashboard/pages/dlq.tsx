import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, query } from '../api.ts';
import { ActionButton } from '../components/action.tsx';
import { time } from '../format.ts';
import { href } from '../router.ts';

interface DlqEntry {
  id: string;
  jobId: string;
  queue: string;
  type: string;
  payload: unknown;
  error?: { name?: string; message?: string } | string;
  reason?: string;
  failedAt?: number;
  tenant?: string;
}

/**
 * The dead-letter queue: review entries, edit a payload and replay it, or
 * replay everything matching a filter. Each action asks first.
 */
export function DlqPage({ params, admin }: { params: URLSearchParams; admin: boolean }) {
  const queue = params.get('queue') ?? '';
  const type = params.get('type') ?? '';
  const [entries, setEntries] = useState<DlqEntry[] | null>(null);
  const [error, setError] = useState('');
  const [notice, setNotice] = useState('');
  const [editing, setEditing] = useState<string | null>(null);
  const [draft, setDraft] = useState('');

  const load = () =>
    api<{ entries: DlqEntry[] }>('GET', `/api/v1/dlq${query({ queue, type })}`).then(
      (d) => setEntries(d.entries),
      (err) => setError(err instanceof ApiError && err.status === 404 ? 'this server offers no DLQ routes' : String(err.message ?? err)),
    );
  useEffect(() => {
    void load();
  }, [queue, type]);

  const edited = () => {
    try {
      return { payload: JSON.parse(draft) };
    } catch {
      throw new ApiError(400, 'invalid_json', 'the edited payload is not valid JSON');
    }
  };

  return (
    <section>
      <h1>Dead-letter queue {queue && <small>{queue}</small>}</h1>
      {notice && <p class="notice" data-testid="notice">{notice}</p>}
      {error && <p class="error">{error}</p>}
      {admin && entries && entries.length > 0 && (
        <div class="toolbar">
          <ActionButton
            label={`Replay all ${entries.length} shown${type ? ` of ${type}` : ''}`}
            testId="bulk-replay"
            confirm={`Replay every DLQ entry${queue ? ` of queue ${queue}` : ''}${type ? ` of type ${type}` : ''}?`}
            method="POST"
            path="/api/v1/dlq/replay"
            body={() => ({ queue: queue || undefined, type: type || undefined })}
            onDone={() => {
              setNotice('Replayed');
              void load();
            }}
          />
        </div>
      )}
      {entries && (
        <table data-testid="dlq">
          <thead>
            <tr>
              <th>entry</th>
              <th>job</th>
              <th>type</th>
              <th>failed</th>
              <th>error</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {entries.map((e) => (
              <>
                <tr key={e.id}>
                  <td>{e.id}</td>
                  <td>
                    <a href={href(`/jobs/${encodeURIComponent(e.jobId)}`)}>{e.jobId}</a>
                  </td>
                  <td>{e.type}</td>
                  <td>{time(e.failedAt)}</td>
                  <td class="clip">{typeof e.error === 'string' ? e.error : (e.error?.message ?? e.reason ?? '')}</td>
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
                </tr>
                {editing === e.id && (
                  <tr key={`${e.id}-edit`}>
                    <td colSpan={6}>
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
                          setNotice(`Replayed as ${(r as { jobId?: string; id?: string })?.jobId ?? (r as { id?: string })?.id ?? 'a new job'}`);
                          void load();
                        }}
                      />
                    </td>
                  </tr>
                )}
              </>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
