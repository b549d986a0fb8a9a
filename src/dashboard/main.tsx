import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, setCsrfToken, whenUnauthorized } from './api.ts';
import { href, useRoute } from './router.ts';
import type { SessionInfo } from './types.ts';
import { LoginPage } from './pages/login.tsx';
import { OverviewPage } from './pages/overview.tsx';
import { JobsPage } from './pages/jobs.tsx';
import { JobPage } from './pages/job.tsx';
import { DlqPage } from './pages/dlq.tsx';
import { SystemPage } from './pages/system.tsx';

function App() {
  const route = useRoute();
  const [session, setSession] = useState<SessionInfo | null | undefined>(undefined);

  useEffect(() => {
    whenUnauthorized(() => setSession(null));
    api<SessionInfo>('GET', '/api/v1/session').then(
      (s) => {
        setCsrfToken(s.csrfToken);
        setSession(s);
      },
      () => setSession(null),
    );
  }, []);

  if (session === undefined) return <p class="muted">Loading…</p>;
  if (session === null) {
    return (
      <LoginPage
        onLogin={(s) => {
          setCsrfToken(s.csrfToken);
          setSession(s);
        }}
      />
    );
  }

  const admin = session.scopes.includes('admin');
  const logout = async () => {
    await api('DELETE', '/api/v1/session').catch(() => undefined);
    setCsrfToken(undefined);
    setSession(null);
  };

  return (
    <>
      <header>
        <strong>TaskMaster</strong>
        <nav>
          <a href={href('/')}>Overview</a>
          <a href={href('/jobs')}>Jobs</a>
          <a href={href('/dlq')}>DLQ</a>
          <a href={href('/system')}>System</a>
        </nav>
        <span class="who" data-testid="who">
          {session.name} ({admin ? 'admin' : 'read only'})
        </span>
        <button type="button" onClick={logout}>
          Log out
        </button>
      </header>
      <main>{page(route.path, route.params, admin)}</main>
    </>
  );
}

function page(path: string, params: URLSearchParams, admin: boolean) {
  if (path.startsWith('/jobs/')) return <JobPage id={decodeURIComponent(path.slice('/jobs/'.length))} admin={admin} />;
  if (path === '/jobs') return <JobsPage params={params} />;
  if (path === '/dlq') return <DlqPage params={params} admin={admin} />;
  if (path === '/system') return <SystemPage />;
  return <OverviewPage />;
}

render(<App />, document.getElementById('app')!);
