import { resolve } from 'node:path';
import type { Runtime } from '../../src/engine/index.ts';
import { startTestRuntime, uniquePrefix, waitFor } from '../helpers/runtime.ts';
import { api, startServer, type TestServer } from '../helpers/server.ts';

export const CHAOS_PLUGINS = resolve(import.meta.dirname, '..', 'fixtures', 'chaos-plugins');

/**
 * How hard the chaos suite pushes: 1 in `npm test` (CI), more with
 * `npm run test:chaos` (CHAOS_SCALE=5). Counts of jobs and faults grow with it.
 */
export function chaosScale(): number {
  const scale = Number(process.env.CHAOS_SCALE ?? 1);
  return Number.isFinite(scale) && scale > 0 ? scale : 1;
}

/** A chaos test's own time limit: processes start slowly on a busy machine. */
export const CHAOS_TIMEOUT_MS = 300_000 * chaosScale();

/** What one chaos run checks, printed so a reader sees the numbers, not only a pass. */
export interface ChaosCounts {
  submitted: number;
  completed: number;
  inDlq: number;
  lost: number;
  runTwice: number;
  runTwiceUnexplained: number;
  duplicateEffects: number;
}

export function report(name: string, counts: Record<string, number>): void {
  const line = Object.entries(counts)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  process.stdout.write(`chaos[${name}] ${line}\n`);
}

/** A fleet of real TaskMaster processes sharing one Redis and one key prefix. */
export class Fleet {
  readonly prefix = uniquePrefix();
  readonly processes: TestServer[] = [];
  private reader?: Runtime;

  constructor(
    readonly redisUrl: string,
    private readonly extra: Record<string, unknown> = {},
  ) {}

  config(): Record<string, unknown> {
    return {
      redis: { url: this.redisUrl, prefix: this.prefix, allowEviction: true },
      plugins: {
        dirs: [CHAOS_PLUGINS],
        builtins: false,
        settings: { chaos: { redisUrl: this.redisUrl, prefix: this.prefix } },
      },
      queues: { default: { concurrency: 4 } },
      defaults: { backoffMs: 100 },
      ...this.extra,
    };
  }

  /** Starts a process; a worker counts as started once its heartbeat is in Redis. */
  async start(role: 'api' | 'worker' | 'start'): Promise<TestServer> {
    const server = await startServer({
      role,
      config: this.config(),
      waitFor: role === 'api' ? 'healthy' : undefined,
      // Chaos runs share a busy machine; a slow start is not the fault under test.
      readyTimeoutMs: 120_000,
    });
    this.processes.push(server);
    if (role === 'worker') {
      const reader = await this.runtime();
      await waitFor(async () => {
        const info = await reader.redis.hgetall(reader.keys.workerInfo());
        return Object.values(info).some((raw) => JSON.parse(raw).pid === server.process.pid);
      }, 120_000, 200);
    }
    return server;
  }

  /** A runtime in this process on the fleet's prefix, for reading jobs and Redis. */
  async runtime(): Promise<Runtime> {
    this.reader ??= await startTestRuntime({ workers: false, redisUrl: this.redisUrl, config: this.config() });
    return this.reader;
  }

  async stop(): Promise<void> {
    await Promise.all(this.processes.map((p) => p.stop('SIGKILL')));
    await this.reader?.stop();
  }

  /**
   * Counts what became of the accepted jobs: completed, failed for good (the
   * DLQ), or neither (lost). A job run more than once is explained only when
   * every run but the last was in a process in `killed`.
   */
  async tally(accepted: string[], killed: Set<number>): Promise<ChaosCounts> {
    const reader = await this.runtime();
    let completed = 0;
    let inDlq = 0;
    let runTwice = 0;
    let runTwiceUnexplained = 0;
    for (const id of accepted) {
      const job = await reader.jobs.get(id).catch(() => undefined);
      if (job?.state === 'completed') completed++;
      else if (job?.state === 'failed' || job?.state === 'dlq') inDlq++;

      const runs = (await reader.redis.lrange(`${this.prefix}:chaos:runs:${id}`, 0, -1)).map(Number);
      if (runs.length > 1) {
        runTwice++;
        if (!runs.slice(0, -1).every((pid) => killed.has(pid))) runTwiceUnexplained++;
      }
    }

    const effects = await reader.redis.lrange(`${this.prefix}:{chaos}:effects`, 0, -1);
    return {
      submitted: accepted.length,
      completed,
      inDlq,
      lost: accepted.length - completed - inDlq,
      runTwice,
      runTwiceUnexplained,
      duplicateEffects: effects.length - new Set(effects).size,
    };
  }

  /** True when every accepted job is completed or failed for good (in the DLQ). */
  async settled(accepted: string[]): Promise<boolean> {
    const reader = await this.runtime();
    for (const id of accepted) {
      const state = await reader.jobs.get(id).then((j) => j.state, () => 'unknown');
      if (state !== 'completed' && state !== 'failed' && state !== 'dlq') return false;
    }
    return true;
  }
}

/** Submits `count` chaos jobs through the API in bulks of 50; returns the ids of accepted ones. */
export async function submitEffects(server: TestServer, count: number, tag: string, ms: () => number): Promise<string[]> {
  const ids: string[] = [];
  for (let start = 0; start < count; start += 50) {
    const jobs = Array.from({ length: Math.min(50, count - start) }, (_, i) => ({
      type: 'chaos.effect',
      payload: { ms: ms() },
      idempotencyKey: `${tag}-${start + i}`,
    }));
    const res = await api(server, 'POST', '/api/v1/jobs/bulk', { jobs });
    if (res.status >= 200 && res.status < 300) ids.push(...res.body.jobs.map((j: { id: string }) => j.id));
  }
  return ids;
}
