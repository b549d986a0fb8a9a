import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { freePort } from '../../src/redis/index.ts';
import { trackProcess } from './cleanup.ts';
import { mergeConfig, tempDir, uniquePrefix } from './runtime.ts';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const ADMIN_KEY = 'test-admin-key-0123456789';

export interface TestServer {
  url: string;
  process: ChildProcess;
  output: () => string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface ServerOptions {
  role?: 'start' | 'api' | 'worker';
  /** Extra command-line arguments after the role (`--processes 2`). */
  args?: string[];
  redisUrl?: string;
  /** Written to a config file the process reads through TASKMASTER_CONFIG. */
  config?: Record<string, unknown>;
  env?: Record<string, string>;
  /** API keys besides the admin key `ADMIN_KEY`. */
  extraKeys?: { name: string; key: string; scopes: string[] }[];
  /** How long to wait for the server to answer; default 90 s. */
  readyTimeoutMs?: number;
  /** Wait for /readyz (default) or only /healthz. */
  waitFor?: 'ready' | 'healthy' | 'none';
}

/**
 * Starts TaskMaster as a real process with `bin/taskmaster.mjs`, a config
 * file of the test's own (admin key `ADMIN_KEY`, unique prefix) and a free
 * port, and waits until it answers.
 */
export async function startServer(options: ServerOptions = {}): Promise<TestServer> {
  const port = await freePort();
  const dir = tempDir('tm-server-');
  const config = mergeConfig(
    {
      dataDir: join(dir, 'data'),
      redis: { prefix: uniquePrefix(), allowEviction: true, ...(options.redisUrl ? { url: options.redisUrl } : {}) },
      api: { port, keys: [{ name: 'test-admin', key: ADMIN_KEY, scopes: ['admin'] }, ...(options.extraKeys ?? [])] },
      log: { level: 'info' },
    },
    options.config ?? {},
  );
  const configFile = join(dir, 'taskmaster.config.json');
  writeFileSync(configFile, JSON.stringify(config));

  let output = '';
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'taskmaster.mjs'), options.role ?? 'start', ...(options.args ?? [])], {
    cwd: dir,
    env: { ...process.env, TASKMASTER_CONFIG: configFile, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  trackProcess(child.pid);
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));

  const url = `http://127.0.0.1:${port}`;
  const server: TestServer = {
    url,
    process: child,
    output: () => output,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      child.kill(signal);
      return exited;
    },
  };

  const path = options.waitFor === 'healthy' ? '/healthz' : '/readyz';
  if (options.waitFor !== 'none' && options.role !== 'worker') {
    const deadline = Date.now() + (options.readyTimeoutMs ?? 90_000);
    for (;;) {
      if (child.exitCode !== null) throw new Error(`server exited early:\n${output}`);
      const ok = await fetch(url + path).then((r) => r.ok, () => false);
      if (ok) break;
      if (Date.now() > deadline) {
        // Never leave a half-started server behind a failed test.
        child.kill('SIGKILL');
        throw new Error(`server not ready:\n${output}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return server;
}

/** A JSON request to a test server with the admin key (or `key`). */
export async function api(server: { url: string }, method: string, path: string, body?: unknown, key = ADMIN_KEY) {
  const response = await fetch(server.url + path, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
}
