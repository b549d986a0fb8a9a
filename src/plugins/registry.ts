import { join } from 'node:path';
import { z } from 'zod';
import type { Config } from '../config/index.ts';
import type { Logger } from '../sdk/types.ts';
import { PluginArchive } from './archive.ts';
import type { PluginSource } from './discover.ts';
import { hashPluginFiles } from './hash.ts';
import { loadPlugin, PluginLoadError, sdkEntryIn, type LoadedPlugin } from './loader.ts';
import { PluginVersion, type HandlerLease, type JobTypeEntry, type VersionStats } from './plugin-version.ts';
import { collectSources, type CollectedSources } from './sources.ts';

export type { HandlerLease, JobTypeEntry, VersionStats };

/** A plugin source that could not be loaded, and why. */
export interface PluginRejection {
  entry: string;
  hash?: string;
  problems: string[];
  at: number;
}

/** What one reload did. */
export interface ReloadReport {
  loaded: { name: string; version: string; hash: string; types: string[]; replaced?: { version: string; hash: string } }[];
  removed: { name: string; version: string; hash: string; types: string[] }[];
  unchanged: string[];
  rejected: PluginRejection[];
  durationMs: number;
}

export interface RegistryOptions {
  /** Looks up the plugin sources; called on every reload. */
  sources: () => CollectedSources;
  sdkEntry: string;
  /** Keeps a copy of every version loaded; none when absent. */
  archive?: PluginArchive;
  /** Configured queues: a job type whose default queue is not among them is rejected. */
  queues?: string[];
  /** How long a replaced version's running jobs may take before they are aborted. */
  drainTimeoutMs: number;
  /** `plugins.settings`, handed to `onInit` and `onShutdown`. */
  settings: Record<string, unknown>;
  log?: Logger;
}

type Listener = (types: string[], plugin: LoadedPlugin) => void;

/**
 * The job types this process knows and the plugin versions that provide
 * them. A reload looks at every source again: new plugins are added, changed
 * ones swapped in, missing ones removed, and broken ones rejected while the
 * version before keeps serving.
 *
 * A swap is one synchronous step: every job started after it runs the new
 * version. Jobs running on the old one hold a lease that keeps it loaded;
 * when the last ends (or the drain limit aborts it) the old version's
 * `onShutdown` runs. Hooks run only once `init` was called (worker processes).
 */
export class Registry {
  private readonly byType = new Map<string, PluginVersion>();
  private readonly bySource = new Map<string, PluginVersion>();
  private readonly draining = new Set<PluginVersion>();
  private readonly retiring = new Set<Promise<void>>();
  private readonly rejections = new Map<string, PluginRejection>();
  private readonly listeners: Listener[] = [];
  private hooks = false;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: RegistryOptions) {}

  /** Discovers, loads and validates every configured plugin; a bad one stops the start. */
  static async load(config: Config, packageRoot: string, log?: Logger): Promise<Registry> {
    const refuse = (path: string, reason: string) => log?.warn({ path, reason }, 'plugin refused: untrusted files');
    const registry = new Registry({
      sources: () => collectSources(config, packageRoot, refuse),
      sdkEntry: sdkEntryIn(packageRoot),
      archive: new PluginArchive(join(config.dataDir, 'plugins', 'versions')),
      queues: Object.keys(config.queues),
      drainTimeoutMs: config.plugins.drainTimeoutMs,
      settings: config.plugins.settings,
      log,
    });
    await registry.reload({ strict: true });
    return registry;
  }

  /** Where copies of each loaded version are kept, if anywhere. */
  get archive(): PluginArchive | undefined {
    return this.options.archive;
  }

  /** The SDK module plugins resolve `taskmaster/sdk` to. */
  get sdkEntry(): string {
    return this.options.sdkEntry;
  }

  get(type: string): JobTypeEntry | undefined {
    return this.byType.get(type)?.entries.get(type);
  }

  /** Claims the version serving `type` for one job; undefined when no plugin provides it. */
  acquire(type: string): HandlerLease | undefined {
    return this.byType.get(type)?.lease(type);
  }

  types(): JobTypeEntry[] {
    return [...this.byType.entries()].map(([type, v]) => v.entries.get(type)!).sort((a, b) => a.type.localeCompare(b.type));
  }

  /** The versions serving now. */
  plugins(): LoadedPlugin[] {
    return [...this.bySource.values()].map((v) => v.plugin);
  }

  /** Serving and draining versions with their job counts. */
  versions(): VersionStats[] {
    return [...this.bySource.values(), ...this.draining].map((v) => v.stats());
  }

  /** Sources rejected at their current content. */
  rejected(): PluginRejection[] {
    return [...this.rejections.values()];
  }

  /** Calls `listener` with a plugin's job types whenever a version of it starts serving. */
  onServing(listener: Listener): void {
    this.listeners.push(listener);
  }

  /**
   * Looks at every plugin source again. Reloads never overlap: a second call
   * waits for the first. With `strict`, the first rejection throws.
   */
  reload(options: { strict?: boolean } = {}): Promise<ReloadReport> {
    const run = this.queue.then(() => this.reloadNow(options.strict ?? false));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Runs `onInit` of every serving version; from now on new versions run theirs before serving. */
  async init(): Promise<void> {
    this.hooks = true;
    for (const version of this.bySource.values()) {
      if (version.initialized) continue;
      await this.initVersion(version);
    }
  }

  /** Waits for draining versions, then runs `onShutdown` of every initialised one. */
  async shutdown(): Promise<void> {
    this.hooks = false;
    await this.queue;
    await Promise.all(this.retiring);
    for (const version of this.bySource.values()) await this.shutdownVersion(version);
  }

  /** Resolves when every replaced or removed version has been retired. */
  async drained(): Promise<void> {
    while (this.retiring.size) await Promise.all(this.retiring);
  }

  private async reloadNow(strict: boolean): Promise<ReloadReport> {
    const startedAt = Date.now();
    const report: ReloadReport = { loaded: [], removed: [], unchanged: [], rejected: [], durationMs: 0 };
    const reject = (entry: string, hash: string | undefined, problems: string[]) => {
      const rejection = { entry, hash, problems, at: Date.now() };
      this.rejections.set(entry, rejection);
      report.rejected.push(rejection);
      this.options.log?.error({ entry, hash, problems }, 'plugin rejected; the version before keeps serving');
      if (strict) throw new PluginLoadError(entry, problems);
    };

    // 1. Look at every source; load what is new or changed.
    const { sources, missing } = this.options.sources();
    for (const err of missing) reject(err.entry, undefined, err.problems);
    const seen = new Set<string>();
    for (const source of sources) {
      seen.add(source.entry);
      const current = this.bySource.get(source.entry);
      let hash: string;
      try {
        hash = hashPluginFiles(source.root);
      } catch (err) {
        reject(source.entry, undefined, [`cannot read: ${(err as Error).message}`]);
        continue;
      }

      if (current?.plugin.hash === hash) {
        this.rejections.delete(source.entry);
        report.unchanged.push(current.plugin.name);
        continue;
      }
      const known = this.rejections.get(source.entry);
      if (known && known.hash === hash) {
        report.rejected.push(known);
        continue;
      }

      try {
        const next = await this.prepare(source, current);
        this.serve(next, current);
        this.rejections.delete(source.entry);
        report.loaded.push({
          ...pick(next),
          replaced: current ? { version: current.plugin.version, hash: current.plugin.hash } : undefined,
        });
      } catch (err) {
        const problems = err instanceof PluginLoadError ? err.problems : [(err as Error).message];
        reject(source.entry, hash, problems);
      }
    }

    // 2. Sources gone since the last look: their job types stop being served.
    for (const [entry, version] of this.bySource) {
      if (seen.has(entry)) continue;
      this.bySource.delete(entry);
      for (const type of version.entries.keys()) if (this.byType.get(type) === version) this.byType.delete(type);
      this.retire(version);
      report.removed.push(pick(version));
      this.options.log?.info({ plugin: version.plugin.name, version: version.plugin.version }, 'plugin removed');
    }
    for (const entry of this.rejections.keys()) {
      if (!seen.has(entry) && !missing.some((m) => m.entry === entry)) this.rejections.delete(entry);
    }

    report.durationMs = Date.now() - startedAt;
    return report;
  }

  /**
   * Loads a source and checks it against everything else serving, then runs
   * its `onInit`. Nothing changes for running jobs until `serve`.
   */
  private async prepare(source: PluginSource, current: PluginVersion | undefined): Promise<PluginVersion> {
    // 1. Import and validate the module.
    const plugin = await loadPlugin(source, this.options.sdkEntry);
    const problems: string[] = [];

    // 2. Its name and job types must be its own.
    for (const [entry, other] of this.bySource) {
      if (entry !== source.entry && other.plugin.name === plugin.name) {
        problems.push(`plugin name ${plugin.name} is already used by ${entry}`);
      }
    }
    for (const [type, definition] of Object.entries(plugin.definition.jobs)) {
      const owner = this.byType.get(type);
      if (owner && owner !== current) problems.push(`job type ${type} is already provided by plugin ${owner.plugin.name}`);
      const queue = definition.defaults?.queue;
      if (queue && this.options.queues && !this.options.queues.includes(queue)) {
        problems.push(`job type ${type} defaults to queue ${queue}, which is not configured`);
      }
    }
    if (problems.length) throw new PluginLoadError(source.entry, problems);

    // 3. A copy of its files, so that this exact version can be run or restored later.
    if (this.options.archive) {
      try {
        plugin.archived = this.options.archive.keep(plugin.name, plugin.hash, source);
      } catch (err) {
        this.options.log?.warn({ plugin: plugin.name, err: (err as Error).message }, 'cannot keep a copy of the plugin files');
      }
    }

    // 4. Its `onInit`, in processes that run jobs.
    const version = new PluginVersion(plugin);
    if (this.hooks) await this.initVersion(version);
    return version;
  }

  /** Makes `next` serve its job types in one step; `current` starts draining. */
  private serve(next: PluginVersion, current: PluginVersion | undefined): void {
    if (current) {
      for (const type of current.entries.keys()) if (this.byType.get(type) === current) this.byType.delete(type);
    }
    for (const type of next.entries.keys()) this.byType.set(type, next);
    this.bySource.set(next.plugin.source.entry, next);
    if (current) this.retire(current);

    const { name, version, hash } = next.plugin;
    this.options.log?.info({ plugin: name, version, hash, types: [...next.entries.keys()] }, 'plugin serving');
    const types = [...next.entries.keys()];
    for (const listener of this.listeners) {
      try {
        listener(types, next.plugin);
      } catch (err) {
        this.options.log?.error({ err, plugin: name }, 'plugin listener failed');
      }
    }
  }

  private retire(version: PluginVersion): void {
    this.draining.add(version);
    const retired = version
      .drain(this.options.drainTimeoutMs)
      .then(() => this.shutdownVersion(version))
      .finally(() => {
        this.draining.delete(version);
        this.retiring.delete(retired);
        this.options.log?.info({ plugin: version.plugin.name, version: version.plugin.version, jobsRun: version.jobsRun }, 'plugin version retired');
      });
    this.retiring.add(retired);
  }

  private async initVersion(version: PluginVersion): Promise<void> {
    const { plugin } = version;
    try {
      await plugin.definition.onInit?.({ config: this.options.settings[plugin.name], log: this.pluginLog(plugin) });
      version.initialized = true;
    } catch (err) {
      throw new PluginLoadError(plugin.source.entry, [`onInit failed: ${(err as Error).message}`]);
    }
  }

  private async shutdownVersion(version: PluginVersion): Promise<void> {
    if (!version.initialized) return;
    version.initialized = false;
    const { plugin } = version;
    try {
      await plugin.definition.onShutdown?.({ config: this.options.settings[plugin.name], log: this.pluginLog(plugin) });
    } catch (err) {
      this.options.log?.error({ plugin: plugin.name, version: plugin.version, err }, 'plugin onShutdown failed');
    }
  }

  private pluginLog(plugin: LoadedPlugin): Logger {
    const log = this.options.log as (Logger & { child?: (b: object) => Logger }) | undefined;
    return log?.child?.({ plugin: plugin.name, version: plugin.version }) ?? log ?? silentLog;
  }
}

function pick(version: PluginVersion) {
  const { name, version: v, hash } = version.plugin;
  return { name, version: v, hash, types: [...version.entries.keys()].sort() };
}

const silentLog: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** The JSON Schema of a job type's payload, when its schema can give one. */
export function payloadJsonSchema(entry: JobTypeEntry): unknown {
  try {
    return z.toJSONSchema(entry.definition.schema as z.ZodType, { unrepresentable: 'any' });
  } catch {
    // A schema from another validation library: it still validates, it just cannot describe itself.
    return {};
  }
}
