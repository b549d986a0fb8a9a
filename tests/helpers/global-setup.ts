import { execFileSync } from 'node:child_process';
import type { TestProject } from 'vitest/node';
import { startTestRedis, type TestRedis } from './redis-server.ts';

let redis: TestRedis | undefined;

/**
 * Once per test run: build the dashboard and the HTTP server (tests start
 * it as a real process) and start one `redis-server` that tests share, each test under its
 * own key prefix.
 */
export async function setup(project: TestProject): Promise<void> {
  if (!process.env.TASKMASTER_SKIP_BUILD) {
    execFileSync('npm', ['run', 'build'], { stdio: 'ignore' });
  }
  redis = await startTestRedis();
  project.provide('redisUrl', redis.url);
}

export async function teardown(): Promise<void> {
  await redis?.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}
