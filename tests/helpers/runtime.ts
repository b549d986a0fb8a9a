import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import { loadConfig, type ConfigInput } from '../../src/config/index.ts';
import { createLogger, startRuntime, type Clock, type Runtime } from '../../src/engine/index.ts';

/** A key prefix no other test uses: each test gets its own queues. */
export function uniquePrefix(): string {
  return `t${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
}

/** A fresh folder for data and plugins. */
export function tempDir(name = 'tm-'): string {
  return mkdtempSync(join(tmpdir(), name));
}

export interface TestRuntimeOptions {
  workers?: boolean;
  config?: ConfigInput;
  redisUrl?: string;
  /** The schedule engine's clock. */
  clock?: Clock;
}

/**
 * Starts a runtime in this process against the test run's Redis, under a
 * unique prefix, with built-ins loaded and logs silenced.
 */
export async function startTestRuntime(options: TestRuntimeOptions = {}): Promise<Runtime> {
  const base: ConfigInput = {
    dataDir: tempDir(),
    redis: { url: options.redisUrl ?? inject('redisUrl'), prefix: uniquePrefix(), allowEviction: true },
    log: { level: 'silent' },
    // Not the default ./my-plugins of the working directory: a test names its own folders.
    plugins: { dirs: [] },
  };
  const config = loadConfig({}, mergeConfig(base, options.config ?? {}));
  return startRuntime({ config, workers: options.workers ?? true, log: createLogger('silent'), clock: options.clock });
}

/** Merges test configuration objects; arrays and scalars of `b` replace `a`'s. */
export function mergeConfig(a: any, b: any): any {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) {
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && a[k] && typeof a[k] === 'object' ? mergeConfig(a[k], v) : v;
  }
  return out;
}

/** Polls `check` until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor<T>(check: () => Promise<T> | T, timeoutMs = 15_000, everyMs = 25): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
