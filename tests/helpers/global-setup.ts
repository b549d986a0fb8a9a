import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killTracked, useProcessFile } from './cleanup.ts';
import type { TestProject } from 'vitest/node';
import { startTestRedis, type TestRedis } from './redis-server.ts';

let redis: TestRedis | undefined;
const pidFile = join(tmpdir(), `taskmaster-test-pids-${process.pid}`);

/**
 * Once per test run: build the dashboard and the HTTP server (tests start
 * it as a real process) and start one `redis-server` that tests share, each test under its
 * own key prefix.
 */
export async function setup(project: TestProject): Promise<void> {
  // Test files run in child processes that inherit this variable.
  useProcessFile(pidFile);
  if (!process.env.TASKMASTER_SKIP_BUILD) {
    execFileSync('npm', ['run', 'build'], { stdio: 'ignore' });
  }
  redis = await startTestRedis();
  project.provide('redisUrl', redis.url);
}

export async function teardown(): Promise<void> {
  await redis?.stop();
  killTracked(pidFile);
}

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}
