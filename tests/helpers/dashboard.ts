import { resolve } from 'node:path';
import { startServer, type TestServer } from './server.ts';

export const FIXTURES = resolve(import.meta.dirname, '..', 'fixtures', 'plugins');
export const DASHBOARD_FIXTURES = resolve(import.meta.dirname, '..', 'fixtures', 'dashboard-plugins');
export const READ_KEY = 'test-read-key-0123456789abc';

/**
 * A real TaskMaster process for dashboard tests: the testkit job types, an
 * admin key and a read-only key, fast metrics flushes and short retries.
 */
export async function startDashboardServer(redisUrl: string, extra: Record<string, unknown> = {}): Promise<TestServer> {
  return startServer({
    redisUrl,
    config: {
      plugins: { dirs: [FIXTURES, DASHBOARD_FIXTURES], builtins: false },
      defaults: { backoffMs: 50 },
      metrics: { flushIntervalMs: 200 },
      ...extra,
    },
    extraKeys: [{ name: 'test-reader', key: READ_KEY, scopes: ['read'] }],
  });
}
