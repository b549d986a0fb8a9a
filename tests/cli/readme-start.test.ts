import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../src/redis/index.ts';
import { tempDir, waitFor } from '../helpers/runtime.ts';
import { ROOT } from '../helpers/server.ts';

describe('the README quick start', () => {
  it('starts the whole service with `npm start`, its own Redis included, and stops it cleanly', async () => {
    // 1. The README's own command: its quick start shows `npm ci && npm start`.
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(readme).toContain('npm ci && npm start');

    // 2. `npm start` with no REDIS_URL: the embedded redis-server under the data folder.
    const dir = tempDir('tm-readme-');
    const port = await freePort();
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ dataDir: join(dir, 'data'), api: { port } }));
    const env: NodeJS.ProcessEnv = { ...process.env, TASKMASTER_CONFIG: join(dir, 'config.json') };
    delete env.REDIS_URL;
    let output = '';
    let redisPid = 0;
    const child = spawn('npm', ['start'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));

    try {
      // 3. The generated key is printed once; the API takes a job with it.
      const key = await waitFor(() => /\n {2}(tm_[\w-]+)\n/.exec(output)?.[1], 60_000, 100);
      await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.ok, 30_000, 100);
      const res = await fetch(`http://127.0.0.1:${port}/api/v1/jobs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'webhook.deliver', payload: { url: 'http://127.0.0.1:9/x', body: {} }, retries: 0 }),
      });
      expect(res.status).toBe(202);
      const { id } = await res.json();
      const job = await waitFor(async () => {
        const body = await (await fetch(`http://127.0.0.1:${port}/api/v1/jobs/${id}`, { headers: { authorization: `Bearer ${key}` } })).json();
        return body.state === 'dlq' ? body : undefined;
      });
      expect(job.attempts[0].error.message).toMatch(/no webhook secret/);
    } finally {
      redisPid = Number(readFileSync(join(dir, 'data', 'redis', 'redis.pid'), 'utf8').trim());
      process.kill(-child.pid!, 'SIGTERM');
    }

    // 4. SIGTERM stops TaskMaster and its Redis; the append-only files stay for the next start.
    await new Promise((resolve) => child.once('exit', resolve));
    expect(redisPid).toBeGreaterThan(0);
    await waitFor(() => !isAlive(redisPid), 10_000, 100);
    expect(existsSync(join(dir, 'data', 'redis', 'appendonlydir'))).toBe(true);
  });
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
