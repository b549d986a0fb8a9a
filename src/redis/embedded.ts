import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createRedis, waitReady } from './connection.ts';

export class RedisServerMissingError extends Error {
  override name = 'RedisServerMissingError';
  constructor() {
    super(
      'redis-server was not found on the PATH. Install it (Debian/Ubuntu: ' +
        '`apt-get install redis-server`, macOS: `brew install redis`) or set ' +
        'REDIS_URL to a Redis server TaskMaster should use.',
    );
  }
}

export interface EmbeddedRedis {
  url: string;
  port: number;
  /** False when another TaskMaster process on this machine started the server. */
  owner: boolean;
  stop(): Promise<void>;
}

/**
 * Starts a `redis-server` that persists to `dir` with an append-only file
 * (fsync every second) and never evicts keys. When another TaskMaster process
 * already runs one on the same folder and it answers, that one is shared
 * (separate `api` and `worker` processes on one machine); one that does not
 * answer is stopped first, so two servers never write the same files.
 */
export async function startEmbeddedRedis(dir: string, binary = 'redis-server'): Promise<EmbeddedRedis> {
  mkdirSync(dir, { recursive: true });
  const shared = await attachRunning(dir);
  if (shared) return shared;
  stopStale(join(dir, 'redis.pid'));

  const port = await freePort();
  writeFileSync(join(dir, 'port'), String(port));
  const child = spawn(
    binary,
    [
      '--port', String(port),
      '--bind', '127.0.0.1',
      '--dir', dir,
      '--pidfile', join(dir, 'redis.pid'),
      '--appendonly', 'yes',
      '--appendfsync', 'everysec',
      '--save', '',
      '--maxmemory-policy', 'noeviction',
      '--daemonize', 'no',
      '--logfile', join(dir, 'redis.log'),
    ],
    { stdio: 'ignore' },
  );

  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'ENOENT' ? new RedisServerMissingError() : err),
    );
  });

  const url = `redis://127.0.0.1:${port}`;
  const probe = createRedis(url, 'blocking', 'taskmaster:probe');
  probe.on('error', () => {
    // Refused until the server listens; waitReady decides when to give up.
  });
  try {
    await waitReady(probe, 15_000);
  } finally {
    probe.disconnect();
  }

  return { url, port, owner: true, stop: () => stopChild(child) };
}

async function attachRunning(dir: string): Promise<EmbeddedRedis | undefined> {
  const pidFile = join(dir, 'redis.pid');
  const portFile = join(dir, 'port');
  if (!existsSync(pidFile) || !existsSync(portFile)) return undefined;
  if (!isAlive(Number(readFileSync(pidFile, 'utf8').trim()))) return undefined;

  const port = Number(readFileSync(portFile, 'utf8').trim());
  const url = `redis://127.0.0.1:${port}`;
  const probe = createRedis(url, 'command', 'taskmaster:probe');
  probe.on('error', () => {});
  try {
    await waitReady(probe, 2000);
    await probe.ping();
    return { url, port, owner: false, stop: async () => {} };
  } catch {
    return undefined;
  } finally {
    probe.disconnect();
  }
}

/** Guards against a recycled pid: only a redis-server is ever signalled. */
function isRedisServer(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('redis-server');
  } catch {
    // No /proc (not Linux): trust the pid file, as redis-server itself does.
    return process.platform !== 'linux';
  }
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;

  // SIGTERM makes redis-server flush its append-only file before exiting.
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

function stopStale(pidFile: string): void {
  if (!existsSync(pidFile)) return;

  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  if (!isAlive(pid) || !isRedisServer(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    // No such process: the pid file is all that was left behind.
  }
}

/** A TCP port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
