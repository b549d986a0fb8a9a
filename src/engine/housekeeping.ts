import type { Config } from '../config/index.ts';
import type { SweepReport } from '../sdk/services.ts';
import type { RedisClient } from '../redis/index.ts';
import type { FileStoreService } from './file-store.ts';
import { removeExpiredJobs } from './finished-retention.ts';
import type { QueueSet } from './queues.ts';

/** Removes one kind of TaskMaster's own data past its retention; returns how many items went. */
export type Sweeper = () => Promise<number>;

/**
 * The retention sweeps of TaskMaster's own data, by name. The built-in
 * `taskmaster.cleanup` job runs them all; each part of the engine that keeps
 * data with a retention registers its sweeper here.
 */
export class Housekeeping {
  private readonly sweepers = new Map<string, Sweeper>();

  register(name: string, sweeper: Sweeper): void {
    this.sweepers.set(name, sweeper);
  }

  /** Runs every sweeper; one failing does not stop the others. */
  async sweep(): Promise<SweepReport[]> {
    const reports: SweepReport[] = [];
    for (const [name, sweeper] of this.sweepers) {
      const started = performance.now();
      try {
        reports.push({ name, removed: await sweeper(), durationMs: Math.round(performance.now() - started) });
      } catch (err) {
        reports.push({ name, removed: 0, durationMs: Math.round(performance.now() - started), error: (err as Error).message });
      }
    }
    return reports;
  }
}

/** The built-in sweepers: finished jobs of every queue, and report files. */
export function builtinHousekeeping(config: Config, queues: QueueSet, redis: RedisClient, files: FileStoreService): Housekeeping {
  const housekeeping = new Housekeeping();
  // Each job by its own retention where it has one (a schedule's), else the configured one.
  const clean = async (state: 'completed' | 'failed', ageMs: number) => {
    let removed = 0;
    for (const name of queues.names) removed += await removeExpiredJobs(queues.get(name), redis, state, ageMs);
    return removed;
  };
  housekeeping.register('completed-jobs', () => clean('completed', config.retention.completedAgeMs));
  housekeeping.register('failed-jobs', () => clean('failed', config.retention.failedAgeMs));
  housekeeping.register('report-files', () => files.sweep());
  return housekeeping;
}
