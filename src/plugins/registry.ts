import { z } from 'zod';
import { join } from 'node:path';
import type { Config } from '../config/index.ts';
import type { JobTypeDefinition, Logger } from '../sdk/types.ts';
import { discoverPlugins, type PluginSource } from './discover.ts';
import { loadPlugin, PluginLoadError, sdkEntryIn, type LoadedPlugin } from './loader.ts';

/** One job type as the registry knows it. */
export interface JobTypeEntry {
  type: string;
  plugin: LoadedPlugin;
  definition: JobTypeDefinition;
}

/**
 * The job types this process knows, by name, and the plugins that provide
 * them. Built once at start-up from the built-in plugins and the configured
 * folders; an invalid plugin or two plugins claiming one type stop the start.
 */
export class Registry {
  private readonly byType = new Map<string, JobTypeEntry>();
  private readonly loaded: LoadedPlugin[] = [];

  /** Discovers, loads and validates every configured plugin. */
  static async load(config: Config, packageRoot: string): Promise<Registry> {
    const sources: PluginSource[] = [];
    if (config.plugins.builtins) sources.push(...discoverPlugins(join(packageRoot, 'plugins')));
    for (const dir of config.plugins.dirs) sources.push(...discoverPlugins(dir));

    const registry = new Registry();
    const sdkEntry = sdkEntryIn(packageRoot);
    for (const source of sources) registry.add(await loadPlugin(source, sdkEntry));
    return registry;
  }

  /** Adds a loaded plugin; rejects it whole if it reuses a name or a job type. */
  add(plugin: LoadedPlugin): void {
    const clash = this.loaded.find((p) => p.name === plugin.name);
    if (clash) {
      throw new PluginLoadError(plugin.source.entry, [
        `plugin name ${plugin.name} is already used by ${clash.source.entry}`,
      ]);
    }

    const claimed = Object.keys(plugin.definition.jobs)
      .filter((type) => this.byType.has(type))
      .map((type) => `job type ${type} is already provided by plugin ${this.byType.get(type)!.plugin.name}`);
    if (claimed.length) throw new PluginLoadError(plugin.source.entry, claimed);

    this.loaded.push(plugin);
    for (const [type, definition] of Object.entries(plugin.definition.jobs)) {
      this.byType.set(type, { type, plugin, definition });
    }
  }

  get(type: string): JobTypeEntry | undefined {
    return this.byType.get(type);
  }

  types(): JobTypeEntry[] {
    return [...this.byType.values()].sort((a, b) => a.type.localeCompare(b.type));
  }

  plugins(): LoadedPlugin[] {
    return [...this.loaded];
  }

  /** Runs every plugin's `onInit`; the first throw stops the start loudly. */
  async init(settings: Record<string, unknown>, log: Logger): Promise<void> {
    for (const plugin of this.loaded) {
      if (!plugin.definition.onInit) continue;
      try {
        await plugin.definition.onInit({ config: settings[plugin.name], log });
      } catch (err) {
        throw new PluginLoadError(plugin.source.entry, [`onInit failed: ${(err as Error).message}`]);
      }
    }
  }

  /** Runs every plugin's `onShutdown`; one failing does not skip the others. */
  async shutdown(settings: Record<string, unknown>, log: Logger): Promise<void> {
    for (const plugin of this.loaded) {
      try {
        await plugin.definition.onShutdown?.({ config: settings[plugin.name], log });
      } catch (err) {
        log.error({ plugin: plugin.name, err }, 'plugin onShutdown failed');
      }
    }
  }
}

/** The JSON Schema of a job type's payload, when its schema can give one. */
export function payloadJsonSchema(entry: JobTypeEntry): unknown {
  try {
    return z.toJSONSchema(entry.definition.schema as z.ZodType, { unrepresentable: 'any' });
  } catch {
    // A schema from another validation library: it still validates, it just cannot describe itself.
    return {};
  }
}
