import { useState } from 'preact/hooks';
import { api, ApiError } from '../api.ts';

/**
 * A button for one action: asks for confirmation, calls the API, then
 * reports what happened. The server records the action in the audit log.
 */
export function ActionButton(props: {
  label: string;
  confirm: string;
  method: string;
  path: string;
  body?: () => unknown;
  onDone: (result: unknown) => void;
  testId?: string;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');

  const run = async () => {
    if (!window.confirm(props.confirm)) return;
    setBusy(true);
    setError('');
    try {
      props.onDone(await api(props.method, props.path, props.body?.()));
    } catch (err) {
      setError(err instanceof ApiError ? `${err.message}` : String(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <span class="action">
      <button type="button" disabled={busy} onClick={run} data-testid={props.testId}>
        {props.label}
      </button>
      {error && (
        <span class="error" role="alert">
          {error}
        </span>
      )}
    </span>
  );
}
