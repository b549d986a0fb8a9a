import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestRedis, type TestRedis } from '../helpers/redis-server.ts';
import { tempDir } from '../helpers/runtime.ts';
import { ROOT, startServer, type TestServer } from '../helpers/server.ts';

let redis: TestRedis | undefined;
let server: TestServer | undefined;
afterEach(async () => {
  await server?.stop();
  await redis?.stop();
  server = redis = undefined;
});

/** Runs `taskmaster start` to its exit; returns the exit code and what it printed. */
function runToExit(config: object, env: Record<string, string> = {}): Promise<{ code: number | null; output: string }> {
  const dir = tempDir('tm-check-');
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ dataDir: join(dir, 'data'), api: { port: 0 }, ...config }));
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'taskmaster.mjs'), 'start'], {
    env: { ...process.env, TASKMASTER_CONFIG: join(dir, 'config.json'), REDIS_URL: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return new Promise((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    }),
  );
}

describe('Redis checks at start-up', () => {
  it('exits naming the package and REDIS_URL when redis-server is not installed', async () => {
    const { code, output } = await runToExit({}, { PATH: '/nonexistent' });

    expect(code).toBe(1);
    expect(output).toContain('apt-get install redis-server');
    expect(output).toContain('REDIS_URL');
  });

  it('refuses a server whose maxmemory-policy can evict jobs', async () => {
    redis = await startTestRedis(['--maxmemory-policy', 'allkeys-lru']);

    const { code, output } = await runToExit({ redis: { url: redis.url } });

    expect(code).toBe(1);
    expect(output).toContain('maxmemory-policy is allkeys-lru');
    expect(output).toContain('redis.allowEviction');
  });

  it('starts on an evicting server when told to, and warns about a server that persists nothing', async () => {
    redis = await startTestRedis(['--maxmemory-policy', 'allkeys-lru']);

    server = await startServer({ redisUrl: redis.url, config: { redis: { allowEviction: true } } });

    expect(server.output()).toContain('jobs can be evicted');
    expect(server.output()).toContain('a restart loses every job');
  });
});
