import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { trackProcess } from '../helpers/cleanup.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis-server.ts';
import { tempDir, waitFor } from '../helpers/runtime.ts';
import { api, ROOT, startServer, type TestServer } from '../helpers/server.ts';

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

  it('names the environment variable, not the config file, for PORT=abc', async () => {
    const { code, output } = await runToExit({}, { PORT: 'abc' });

    expect(code).toBe(1);
    expect(output).toContain('invalid configuration from the environment');
    expect(output).toContain('api.port (environment variable PORT=abc)');
    expect(output).not.toContain('config.json');
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

describe('the embedded redis-server', () => {
  it('is started again after a SIGKILL, on the same port, with the jobs it had', async () => {
    // 1. TaskMaster with its own Redis, and a job that waits an hour.
    const dataDir = join(tempDir('tm-embedded-'), 'data');
    server = await startServer({ config: { dataDir }, env: { REDIS_URL: '' } });
    const submitted = await api(server, 'POST', '/api/v1/jobs', { type: 'webhook.deliver', payload: { url: 'http://127.0.0.1:9/x', body: {} }, delayMs: 3_600_000 });
    expect(submitted.status).toBe(202);
    const id: string = submitted.body.id;
    const redisDir = join(dataDir, 'redis');
    const firstPid = readPid(redisDir);
    trackProcess(firstPid);
    // The append-only file is fsynced every second: wait until the job is in it.
    await waitFor(() => aofText(redisDir).includes(id), 10_000, 50);

    // 2. Kill Redis: TaskMaster starts it again on the same port, and says so once.
    process.kill(firstPid, 'SIGKILL');
    const secondPid = await waitFor(() => {
      const pid = readPid(redisDir);
      return pid !== firstPid && isAlive(pid) ? pid : undefined;
    }, 10_000, 50);
    trackProcess(secondPid);
    await waitFor(async () => (await fetch(`${server!.url}/readyz`)).ok, 20_000, 100);

    // 3. The job is still there, and the API and workers reconnected by themselves.
    const job = await api(server, 'GET', `/api/v1/jobs/${id}`);
    expect(job.status).toBe(200);
    expect(job.body.state).toBe('delayed');
    expect(server.output().match(/embedded redis-server died; starting it again/g)).toHaveLength(1);

    // 4. SIGTERM stops the restarted server too.
    expect(await server.stop()).toBe(0);
    await waitFor(() => !isAlive(secondPid), 10_000, 50);
  });

  it('adopts the server left by a SIGKILLed TaskMaster and stops it on exit', async () => {
    // 1. A TaskMaster killed without its shutdown leaves its redis-server running.
    const dataDir = join(tempDir('tm-adopt-'), 'data');
    const first = await startServer({ config: { dataDir }, env: { REDIS_URL: '' } });
    const redisPid = readPid(join(dataDir, 'redis'));
    trackProcess(redisPid);
    await first.stop('SIGKILL');
    expect(isAlive(redisPid)).toBe(true);

    // 2. The next start uses that server as its own.
    server = await startServer({ config: { dataDir }, env: { REDIS_URL: '' } });
    expect(readPid(join(dataDir, 'redis'))).toBe(redisPid);
    expect(server.output()).toContain('adopted the embedded redis-server');
    expect(server.output()).toMatch(/"owner":true/);

    // 3. SIGTERM stops TaskMaster and the adopted server.
    expect(await server.stop()).toBe(0);
    await waitFor(() => !isAlive(redisPid), 10_000, 50);
  });

  it('shares, and never stops, a redis-server in the data folder that TaskMaster did not start', async () => {
    // 1. A server run by hand, whose pid and port are where TaskMaster looks.
    const dataDir = join(tempDir('tm-own-'), 'data');
    const redisDir = join(dataDir, 'redis');
    mkdirSync(redisDir, { recursive: true });
    redis = await startTestRedis(['--dir', tempDir('tm-own-redis-'), '--pidfile', join(redisDir, 'redis.pid')]);
    writeFileSync(join(redisDir, 'port'), String(redis.port));
    await waitFor(() => existsSync(join(redisDir, 'redis.pid')), 5_000, 20);

    // 2. TaskMaster uses it without owning it, and leaves it running on exit.
    server = await startServer({ config: { dataDir }, env: { REDIS_URL: '' } });
    expect(server.output()).toMatch(/"owner":false/);
    expect(await server.stop()).toBe(0);
    expect(isAlive(redis.process.pid!)).toBe(true);
  });
});

function readPid(redisDir: string): number {
  return Number(readFileSync(join(redisDir, 'redis.pid'), 'utf8').trim());
}

function aofText(redisDir: string): string {
  const dir = join(redisDir, 'appendonlydir');
  if (!existsSync(dir)) return '';
  return readdirSync(dir)
    .filter((name) => name.endsWith('.aof'))
    .map((name) => readFileSync(join(dir, name), 'latin1'))
    .join('');
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z');
  } catch {
    return false;
  }
}
