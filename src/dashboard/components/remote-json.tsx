import { useEffect, useState } from 'preact/hooks';
import { api, ApiError } from '../api.ts';

/**
 * Loads one API resource and hands it to `render`; says so plainly when this
 * server does not offer it (404) instead of showing an empty page.
 */
export function Remote<T>({ path, render, refreshMs }: { path: string; render: (data: T) => preact.ComponentChildren; refreshMs?: number }) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState('');

  useEffect(() => {
    const load = () =>
      api<T>('GET', path).then(
        (d) => {
          setData(d);
          setError('');
        },
        (err) => setError(err instanceof ApiError && err.status === 404 ? `not offered by this server (${path})` : String(err.message ?? err)),
      );
    void load();
    if (!refreshMs) return;
    const timer = setInterval(load, refreshMs);
    return () => clearInterval(timer);
  }, [path]);

  if (error) return <p class="muted">{error}</p>;
  if (!data) return <p class="muted">Loading…</p>;
  return <>{render(data)}</>;
}
