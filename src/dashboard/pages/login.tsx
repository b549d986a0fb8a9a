import { useState } from 'preact/hooks';
import { api, ApiError } from '../api.ts';
import type { SessionInfo } from '../types.ts';

/** Log in with an API key: `read` to look, `admin` to act. The key goes to the server once. */
export function LoginPage({ onLogin }: { onLogin: (session: SessionInfo) => void }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState('');

  const submit = async (event: Event) => {
    event.preventDefault();
    setError('');
    try {
      onLogin(await api<SessionInfo>('POST', '/api/v1/session', { key }));
    } catch (err) {
      setError(err instanceof ApiError ? err.message : 'cannot reach the server');
    }
  };

  return (
    <form class="login" onSubmit={submit}>
      <h1>TaskMaster</h1>
      <label>
        API key
        <input name="key" type="password" autoComplete="off" value={key} onInput={(e) => setKey(e.currentTarget.value)} />
      </label>
      <button type="submit">Log in</button>
      {error && <p class="error" role="alert">{error}</p>}
    </form>
  );
}
