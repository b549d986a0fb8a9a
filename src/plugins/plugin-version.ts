import { setMaxListeners } from 'node:events';
import type { JobTypeDefinition } from '../sdk/types.ts';
import type { LoadedPlugin } from './loader.ts';

/** One job type as the registry knows it: the version that serves it now. */
export interface JobTypeEntry {
  type: string;
  plugin: LoadedPlugin;
  definition: JobTypeDefinition;
}

/**
 * A claim on the plugin version that runs one job. The version stays loaded
 * until every lease on it is released; `signal` fires when the version's
 * drain limit passes while the job still runs.
 */
export interface HandlerLease {
  entry: JobTypeEntry;
  signal: AbortSignal;
  /** Ends the claim; `completed` counts the job in the version's tally. */
  release(completed: boolean): void;
}

/**
 * Thrown into a job still running on a plugin version when that version's
 * drain limit passes. The worker runs the job again, on the new version,
 * without counting the aborted run as a retry.
 */
export class PluginSwapError extends Error {
  override name = 'PluginSwapError';

  constructor(plugin: string, version: string, drainTimeoutMs: number) {
    super(`plugin ${plugin}@${version} was replaced and its jobs did not finish within ${drainTimeoutMs} ms`);
  }
}

export type VersionStatus = 'serving' | 'draining' | 'retired';

/** A version's numbers, as processes report them. */
export interface VersionStats {
  name: string;
  version: string;
  hash: string;
  entry: string;
  types: string[];
  loadedAt: number;
  status: VersionStatus;
  running: number;
  jobsRun: number;
  jobsCompleted: number;
}

/**
 * One loaded version of a plugin and the jobs it is running. A version
 * serves until it is replaced or removed, then drains: it takes no new jobs,
 * and once its last job ends (or the limit aborts it) it is retired and its
 * `onShutdown` may run.
 */
export class PluginVersion {
  readonly entries = new Map<string, JobTypeEntry>();
  status: VersionStatus = 'serving';
  /** True once `onInit` ran: only then does `onShutdown` run. */
  initialized = false;
  running = 0;
  jobsRun = 0;
  jobsCompleted = 0;

  private readonly abort = new AbortController();
  private idle?: () => void;

  constructor(readonly plugin: LoadedPlugin) {
    // Every running job of this version listens on its signal: as many as the concurrency allows.
    setMaxListeners(0, this.abort.signal);
    for (const [type, definition] of Object.entries(plugin.definition.jobs)) {
      this.entries.set(type, { type, plugin, definition });
    }
  }

  lease(type: string): HandlerLease | undefined {
    const entry = this.entries.get(type);
    if (!entry || this.status !== 'serving') return undefined;

    this.running++;
    let released = false;
    return {
      entry,
      signal: this.abort.signal,
      release: (completed) => {
        if (released) return;
        released = true;
        this.running--;
        this.jobsRun++;
        if (completed) this.jobsCompleted++;
        if (this.running === 0) this.idle?.();
      },
    };
  }

  /**
   * Stops taking jobs and resolves when the last running one ended. Jobs
   * still running after `limitMs` are aborted with a `PluginSwapError`.
   */
  drain(limitMs: number): Promise<void> {
    this.status = 'draining';
    const idle = new Promise<void>((resolve) => {
      if (this.running === 0) resolve();
      else this.idle = resolve;
    });
    const timer = setTimeout(
      () => this.abort.abort(new PluginSwapError(this.plugin.name, this.plugin.version, limitMs)),
      limitMs,
    );
    timer.unref();

    return idle.then(() => {
      clearTimeout(timer);
      this.status = 'retired';
    });
  }

  stats(): VersionStats {
    return {
      name: this.plugin.name,
      version: this.plugin.version,
      hash: this.plugin.hash,
      entry: this.plugin.source.entry,
      types: [...this.entries.keys()].sort(),
      loadedAt: this.plugin.loadedAt,
      status: this.status,
      running: this.running,
      jobsRun: this.jobsRun,
      jobsCompleted: this.jobsCompleted,
    };
  }
}
