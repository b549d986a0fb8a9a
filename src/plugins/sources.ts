import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Config } from '../config/index.ts';
import { discoverPlugins, type PluginSource } from './discover.ts';
import { PluginLoadError } from './loader.ts';
import type { RefusalReporter } from './trust.ts';

/**
 * Every plugin source the configuration names, in load order: the built-in
 * plugins, each configured folder, then each configured npm package. Read
 * afresh on every reload, so a folder dropped in or a package installed since
 * the last look is found. Folders and files every user may write are skipped
 * and reported to `refuse`.
 */
export function collectSources(config: Config, packageRoot: string, refuse?: RefusalReporter): CollectedSources {
  const sources: PluginSource[] = [];
  const missing: PluginLoadError[] = [];
  if (config.plugins.builtins) sources.push(...discoverPlugins(join(packageRoot, 'plugins'), refuse));
  for (const dir of config.plugins.dirs) sources.push(...discoverPlugins(dir, refuse));
  for (const name of config.plugins.packages) {
    try {
      sources.push(packageSource(name));
    } catch (err) {
      missing.push(err as PluginLoadError);
    }
  }
  return { sources, missing };
}

/** What a look at the configured places found: sources, and packages that could not be resolved. */
export interface CollectedSources {
  sources: PluginSource[];
  missing: PluginLoadError[];
}

/**
 * Creates the configured plugin folders that do not exist yet (not writable
 * by other users), so that they are watched from the start and a plugin
 * written there later is served without a restart. Returns the folders
 * created and those that could not be.
 */
export function createPluginFolders(config: Config): { created: string[]; failed: { dir: string; error: string }[] } {
  const created: string[] = [];
  const failed: { dir: string; error: string }[] = [];
  for (const dir of config.plugins.dirs) {
    if (existsSync(dir)) continue;
    try {
      mkdirSync(dir, { recursive: true, mode: 0o755 });
      created.push(dir);
    } catch (err) {
      failed.push({ dir, error: (err as Error).message });
    }
  }
  return { created, failed };
}

/** The folders whose changes should trigger a reload. */
export function watchedFolders(config: Config, packageRoot: string): string[] {
  const folders = [...config.plugins.dirs];
  if (config.plugins.builtins) folders.push(join(packageRoot, 'plugins'));
  return folders.filter((dir) => existsSync(dir));
}

/**
 * An installed npm package as a plugin source. Resolved from the working
 * directory, like `import` from the application would; the entry is the
 * package's `exports` (import or default condition), else `main`, else
 * `index.js`.
 */
export function packageSource(name: string, fromDir = process.cwd()): PluginSource {
  // Looked up folder by folder like Node does, reading the manifest directly: a package whose
  // `exports` does not list `./package.json` cannot be resolved to it through `require`.
  let manifestPath: string | undefined;
  for (let dir = resolve(fromDir); ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name, 'package.json');
    if (existsSync(candidate)) {
      manifestPath = candidate;
      break;
    }
    if (dirname(dir) === dir) break;
  }
  if (!manifestPath) {
    throw new PluginLoadError(name, [`npm package ${name} is not installed (looked in node_modules from ${fromDir} up)`]);
  }

  const root = dirname(manifestPath);
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { main?: string; exports?: unknown };
  return { entry: join(root, packageEntry(manifest)), root };
}

function packageEntry(manifest: { main?: string; exports?: unknown }): string {
  const exported = manifest.exports;
  const dot = typeof exported === 'object' && exported !== null && '.' in exported ? (exported as any)['.'] : exported;
  if (typeof dot === 'string') return dot;
  if (typeof dot === 'object' && dot !== null) {
    const pick = dot.import ?? dot.default ?? dot.require;
    if (typeof pick === 'string') return pick;
  }
  return manifest.main ?? 'index.js';
}
