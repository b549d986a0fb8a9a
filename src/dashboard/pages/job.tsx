import { useEffect, useState } from 'preact/hooks';
import { api, ApiError } from '../api.ts';
import { ActionButton } from '../components/action.tsx';
import { ms, time } from '../format.ts';
import { href } from '../router.ts';
import type { JobDetail, Preview, TimelineEntry } from '../types.ts';

const PRIORITIES = ['critical', 'high', 'normal', 'low'];

/**
 * One job: state, options, progress, payload and result (cut, with a
 * download link), its timeline, and the actions an admin key may take.
 * Every value is rendered as text: Preact escapes it, nothing is parsed as HTML.
 */
export function JobPage({ id, admin }: { id: string; admin: boolean }) {
  const [job, setJob] = useState<JobDetail | null>(null);
  const [timeline, setTimeline] = useState<TimelineEntry[]>([]);
  const [error, setError] = useState('');
  const [notice, setNotice] = useState('');
  const [priority, setPriority] = useState('normal');
  const [retriedAs, setRetriedAs] = useState('');
  const path = `/api/v1/jobs/${encodeURIComponent(id)}`;

  const load = async () => {
    try {
      const [detail, history] = await Promise.all([
        api<JobDetail>('GET', `${path}/preview`),
        api<{ timeline: TimelineEntry[] }>('GET', `${path}/history`),
      ]);
      setJob(detail);
      setTimeline(history.timeline);
      setPriority(String(detail.options.priority ?? 'normal'));
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    }
  };
  useEffect(() => {
    setNotice('');
    setRetriedAs('');
    void load();
  }, [id]);

  if (error) return <p class="error">{error}</p>;
  if (!job) return <p class="muted">Loading…</p>;

  const done = (what: string) => () => {
    setNotice(what);
    void load();
  };
  const pending = ['waiting', 'delayed'].includes(job.state);

  return (
    <section>
      <h1>
        Job <code data-testid="job-id">{job.id}</code> <span class={`state ${job.state}`} data-testid="job-state">{job.state}</span>
      </h1>
      {notice && (
        <p class="notice" data-testid="notice">
          {notice}
          {retriedAs && (
            <>
              {' as '}
              <a data-testid="retried-as" href={href(`/jobs/${encodeURIComponent(retriedAs)}`)}>
                {retriedAs}
              </a>
            </>
          )}
        </p>
      )}

      {admin && (
        <div class="toolbar" data-testid="actions">
          {(job.state === 'failed' || job.state === 'dlq') && (
            <ActionButton
              label="Retry"
              testId="retry"
              confirm={`Retry job ${job.id}?`}
              method="POST"
              path={`${path}/retry`}
              onDone={(r) => {
                const retried = (r as { jobId?: string } | undefined)?.jobId;
                setRetriedAs(retried && retried !== job.id ? retried : '');
                done('Retried')();
              }}
            />
          )}
          {['waiting', 'delayed', 'active'].includes(job.state) && (
            <ActionButton label="Cancel" testId="cancel" confirm={`Cancel job ${job.id}?`} method="POST" path={`${path}/cancel`} onDone={done('Cancelled')} />
          )}
          {job.state === 'delayed' && (
            <ActionButton label="Run now" testId="promote" confirm={`Run delayed job ${job.id} now?`} method="POST" path={`${path}/promote`} onDone={done('Promoted')} />
          )}
          {pending && (
            <span>
              <select data-testid="priority-select" value={priority} onChange={(e) => setPriority(e.currentTarget.value)}>
                {PRIORITIES.map((p) => (
                  <option key={p}>{p}</option>
                ))}
              </select>
              <ActionButton
                label="Change priority"
                testId="change-priority"
                confirm={`Change the priority of ${job.id} to ${priority}?`}
                method="PATCH"
                path={path}
                body={() => ({ priority })}
                onDone={done(`Priority changed to ${priority}`)}
              />
            </span>
          )}
        </div>
      )}

      <div class="columns">
        <table class="facts">
          <tbody>
            <Fact name="type" value={job.type} />
            <Fact name="queue" value={job.queue} />
            <Fact name="submitted by" value={job.submittedBy ?? '–'} />
            <Fact name="created" value={time(job.timestamps.createdAt)} />
            <Fact name="started" value={time(job.timestamps.startedAt)} testId="started" />
            <Fact name="finished" value={time(job.timestamps.finishedAt)} />
            <Fact name="attempts" value={String(job.attemptsMade)} />
            <Fact name="progress" value={JSON.stringify(job.progress)} />
            {Object.entries(job.options).map(([k, v]) => (
              <Fact key={k} name={k} value={v === undefined ? '–' : String(v)} testId={`option-${k}`} />
            ))}
          </tbody>
        </table>
        <div>
          <Value title="Payload" preview={job.payload} download={`${path}/download?part=payload`} testId="payload" />
          {job.result && <Value title="Result" preview={job.result} download={`${path}/download?part=result`} testId="result" />}
          {job.error && (
            <>
              <h2>Error</h2>
              <pre data-testid="error">{job.error}</pre>
            </>
          )}
        </div>
      </div>

      <h2>Timeline</h2>
      <ol class="timeline" data-testid="timeline">
        {timeline.map((entry, i) => (
          <li key={i} class={entry.kind.replace(/[^a-z.-]/g, '')}>
            <time>{time(entry.at)}</time> <strong>{entry.kind}</strong> <span>{entry.message}</span>
            {entry.by && <span class="muted"> by {entry.by}</span>}
            {entry.durationMs !== undefined && <span class="muted"> ({ms(entry.durationMs)})</span>}
          </li>
        ))}
      </ol>
    </section>
  );
}

function Fact({ name, value, testId }: { name: string; value: string; testId?: string }) {
  return (
    <tr>
      <th>{name}</th>
      <td data-testid={testId}>{value}</td>
    </tr>
  );
}

function Value({ title, preview, download, testId }: { title: string; preview: Preview; download: string; testId: string }) {
  return (
    <>
      <h2>
        {title} <a href={download}>download</a>
      </h2>
      <pre data-testid={testId}>{preview.text}</pre>
      {preview.truncated && <p class="muted">Cut at {preview.text.length.toLocaleString('en')} of {preview.bytes.toLocaleString('en')} bytes; download for the whole value.</p>}
    </>
  );
}
