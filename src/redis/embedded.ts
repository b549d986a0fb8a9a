import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
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
  /**
   * True when this process stops the server on exit and starts it again when it
   * dies: it started it, or adopted one whose TaskMaster is gone. False when
   * another live TaskMaster process on this machine owns it.
   */
  owner: boolean;
  stop(): Promise<void>;
}

/** Where the embedded server's restarts and adoption are told. */
export interface EmbeddedRedisLog {
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
}

export interface EmbeddedRedisOptions {
  /** The server binary; default `redis-server` from the PATH. */
  binary?: string;
  log?: EmbeddedRedisLog;
}

/** First wait before starting a server that died; doubled for each quick death after it. */
const RESTART_DELAY_MS = 250;
const MAX_RESTART_DELAY_MS = 30_000;
/** A server that ran this long before dying starts again after the first delay. */
const STABLE_MS = 60_000;
/** How often the pid of an adopted server (not our child) is checked. */
const ADOPTED_POLL_MS = 500;

const silent: EmbeddedRedisLog = { info: () => {}, warn: () => {} };

/**
 * Starts a `redis-server` that persists to `dir` with an append-only file
 * (fsync every second) and never evicts keys, and keeps it running: when it
 * dies it starts again on the same port and folder (the append-only file keeps
 * the jobs), after 0.25 s, doubling up to 30 s while it keeps dying.
 *
 * A server already running on the same folder is, depending on who started it:
 * - another live TaskMaster process: shared, never stopped or restarted here
 *   (separate `api` and `worker` processes on one machine);
 * - a TaskMaster process that is gone (killed without its shutdown): adopted,
 *   then stopped and restarted like one started here;
 * - anything that does not answer: stopped first, so two servers never write
 *   the same files.
 * Who started it is the `owner` file beside `redis.pid`; a server without one
 * (run by hand) is only ever shared.
 */
export async function startEmbeddedRedis(dir: string, options: EmbeddedRedisOptions = {}): Promise<EmbeddedRedis> {
  const binary = options.binary ?? 'redis-server';
  const log = options.log ?? silent;
  mkdirSync(dir, { recursive: true });

  // 1. One already running on this folder: share it, or adopt it when its TaskMaster is gone.
  const running = await findRunning(dir);
  if (running && !running.adoptable) return { url: urlOf(running.port), port: running.port, owner: false, stop: async () => {} };
  if (running) {
    writeOwner(dir);
    log.info({ port: running.port, pid: running.pid }, 'adopted the embedded redis-server of a TaskMaster that is gone');
    return new KeptServer(dir, running.port, binary, log).adopt(running.pid);
  }
  stopStale(join(dir, 'redis.pid'));

  // 2. A new one on a free port.
  const port = await freePort();
  writeFileSync(join(dir, 'port'), String(port));
  writeOwner(dir);
  const server = new KeptServer(dir, port, binary, log);
  await server.spawnFirst();

  const probe = createRedis(urlOf(port), 'blocking', 'taskmaster:probe');
  probe.on('error', () => {
    // Refused until the server listens; waitReady decides when to give up.
  });
  try {
    await waitReady(probe, 15_000);
  } catch (err) {
    await server.handle().stop();
    throw err;
  } finally {
    probe.disconnect();
  }
  return server.handle();
}

/**
 * One embedded server this process owns: started again whenever it dies,
 * until `stop`. Clients reconnect by themselves once it listens again.
 */
class KeptServer {
  private child?: ChildProcess;
  private adoptedPid?: number;
  private poll?: NodeJS.Timeout;
  private restartTimer?: NodeJS.Timeout;
  private startedAt = Date.now();
  private quickDeaths = 0;
  private stopping = false;

  constructor(
    private readonly dir: string,
    private readonly port: number,
    private readonly binary: string,
    private readonly log: EmbeddedRedisLog,
  ) {}

  handle(): EmbeddedRedis {
    return { url: urlOf(this.port), port: this.port, owner: true, stop: () => this.stop() };
  }

  /** Watches a server this process did not spawn; only its pid tells when it dies. */
  adopt(pid: number): EmbeddedRedis {
    this.adoptedPid = pid;
    this.poll = setInterval(() => {
      if (isAlive(pid)) return;
      clearInterval(this.poll);
      this.adoptedPid = undefined;
      this.died(`pid ${pid} gone`);
    }, ADOPTED_POLL_MS);
    this.poll.unref();
    return this.handle();
  }

  /** The first start: a missing binary is an error for the caller, not a restart. */
  async spawnFirst(): Promise<void> {
    const child = this.spawn();
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (err: NodeJS.ErrnoException) => {
        // Not a death to restart from: the caller hears of it and nothing runs.
        void this.stop();
        reject(err.code === 'ENOENT' ? new RedisServerMissingError() : err);
      });
    });
  }

  private spawn(): ChildProcess {
    const child = spawn(this.binary, serverArgs(this.dir, this.port), { stdio: 'ignore' });
    this.child = child;
    this.startedAt = Date.now();
    let ended = false;
    const end = (how: string) => {
      if (ended) return;
      ended = true;
      if (this.child === child) this.child = undefined;
      this.died(how);
    };
    child.once('exit', (code, signal) => end(signal ?? `exit code ${code}`));
    child.once('error', (err) => end(err.message));
    return child;
  }

  private died(how: string): void {
    if (this.stopping) return;

    this.quickDeaths = Date.now() - this.startedAt < STABLE_MS ? this.quickDeaths + 1 : 1;
    const delayMs = Math.min(RESTART_DELAY_MS * 2 ** (this.quickDeaths - 1), MAX_RESTART_DELAY_MS);
    this.log.warn({ port: this.port, how, restartInMs: delayMs }, 'embedded redis-server died; starting it again');
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (!this.stopping) this.spawn();
    }, delayMs);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    clearInterval(this.poll);

    if (this.child) await stopChild(this.child);
    if (this.adoptedPid !== undefined) await stopPid(this.adoptedPid);
    rmSync(join(this.dir, 'owner'), { force: true });
  }
}

function serverArgs(dir: string, port: number): string[] {
  return [
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
  ];
}

interface RunningServer {
  port: number;
  pid: number;
  /** Started by a TaskMaster process for this folder that is no longer running. */
  adoptable: boolean;
}

async function findRunning(dir: string): Promise<RunningServer | undefined> {
  const pidFile = join(dir, 'redis.pid');
  const portFile = join(dir, 'port');
  if (!existsSync(pidFile) || !existsSync(portFile)) return undefined;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  if (!isAlive(pid)) return undefined;

  const port = Number(readFileSync(portFile, 'utf8').trim());
  const probe = createRedis(urlOf(port), 'command', 'taskmaster:probe');
  probe.on('error', () => {});
  try {
    await waitReady(probe, 2000);
    await probe.ping();
    const adoptable = ownerGone(dir) && isRedisServer(pid) && (await servesFolder(probe, dir));
    return { port, pid, adoptable };
  } catch {
    return undefined;
  } finally {
    probe.disconnect();
  }
}

/** True only when the server on the port really keeps its files in `dir`. */
async function servesFolder(probe: ReturnType<typeof createRedis>, dir: string): Promise<boolean> {
  const reply = (await probe.call('CONFIG', 'GET', 'dir').catch(() => [])) as string[];
  return reply[1] !== undefined && reply[1] === realpathSync(dir);
}

/**
 * The `owner` file names the TaskMaster process that runs the server as
 * `pid start-time`; the start time (Linux) tells a recycled pid apart.
 */
function writeOwner(dir: string): void {
  writeFileSync(join(dir, 'owner'), `${process.pid} ${startTime(process.pid) ?? ''}`.trim());
}

/** False when there is no owner file: then no TaskMaster wrote it, and the server is not ours. */
function ownerGone(dir: string): boolean {
  const file = join(dir, 'owner');
  if (!existsSync(file)) return false;
  const [pidText, started] = readFileSync(file, 'utf8').trim().split(' ');
  const pid = Number(pidText);
  if (!isAlive(pid)) return true;
  return started !== undefined && startTime(pid) !== undefined && startTime(pid) !== started;
}

/** A process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat). */
function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function urlOf(port: number): string {
  return `redis://127.0.0.1:${port}`;
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

/** A zombie counts as gone: an orphaned server's new parent may be slow to reap it. */
function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;

  // SIGTERM makes redis-server flush its append-only file before exiting.
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** Stops a server that is not our child: SIGTERM, then SIGKILL after 10 s. */
async function stopPid(pid: number): Promise<void> {
  if (!isAlive(pid) || !isRedisServer(pid)) return;

  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 10_000;
  while (isAlive(pid)) {
    if (Date.now() > deadline) {
      process.kill(pid, 'SIGKILL');
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
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
