import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from '../../src/redis/index.ts';
import { trackProcess } from './cleanup.ts';

export interface TestRedis {
  url: string;
  port: number;
  process: ChildProcess;
  /** Stops the server (SIGTERM, or SIGKILL when `hard`). */
  stop(hard?: boolean): Promise<void>;
  /** Starts it again on the same port and folder. */
  restart(): Promise<void>;
}

/**
 * A `redis-server` of the test run's own, on a free port, in a temporary
 * folder: tests never touch the machine's shared server.
 */
export async function startTestRedis(extraArgs: string[] = []): Promise<TestRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'tm-redis-'));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', ...extraArgs];

  const handle: TestRedis = {
    url: `redis://127.0.0.1:${port}`,
    port,
    process: undefined as unknown as ChildProcess,
    async stop(hard = false) {
      const child = handle.process;
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill(hard ? 'SIGKILL' : 'SIGTERM');
      await exited;
    },
    async restart() {
      handle.process = await launch(args, port);
    },
  };
  handle.process = await launch(args, port);
  return handle;
}

async function launch(args: string[], port: number): Promise<ChildProcess> {
  const child = spawn('redis-server', args, { stdio: 'ignore' });
  trackProcess(child.pid);
  const deadline = Date.now() + 10_000;
  for (;;) {
    const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => {});
    try {
      await probe.connect();
      await probe.ping();
      probe.disconnect();
      return child;
    } catch {
      probe.disconnect();
      if (Date.now() > deadline) throw new Error(`redis-server on ${port} did not start`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
