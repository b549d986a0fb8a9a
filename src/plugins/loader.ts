import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { createJiti } from 'jiti';
import type { PluginDefinition } from '../sdk/types.ts';
import type { PluginSource } from './discover.ts';
import { hashPluginFiles } from './hash.ts';
import { validatePlugin } from './validate.ts';

/** A plugin module loaded and validated, with what identifies its code. */
export interface LoadedPlugin {
  name: string;
  version: string;
  /** Content hash of the plugin's files. */
  hash: string;
  source: PluginSource;
  definition: PluginDefinition;
  loadedAt: number;
  /** The copy of this version's files kept under the data folder, when one was made. */
  archived?: PluginSource;
}

/** A plugin that could not be loaded; `problems` names each reason. */
export class PluginLoadError extends Error {
  override name = 'PluginLoadError';

  constructor(
    readonly entry: string,
    readonly problems: string[],
  ) {
    super(`plugin ${entry} rejected:\n  ${problems.join('\n  ')}`);
  }
}

/**
 * Loads one plugin module. TypeScript and JavaScript both load without a
 * build step (through jiti); `taskmaster/sdk` resolves to this copy of the
 * SDK so a plugin folder needs no install of its own. Modules are not cached,
 * so loading changed files again yields the new code.
 */
export async function loadPlugin(source: PluginSource, sdkEntry: string): Promise<LoadedPlugin> {
  releaseOldVersions();
  const jiti = createJiti(import.meta.url, {
    moduleCache: false,
    // Transpiled files are cached on disk by content hash: a changed file is
    // transpiled again, an unchanged one is not, so each process starts in a
    // fraction of the time with several built-in plugins.
    fsCache: true,
    alias: { 'taskmaster/sdk': sdkEntry },
  });

  // 1. Import; a syntax error or a throw at module level rejects the plugin.
  let exported: unknown;
  try {
    exported = await jiti.import(source.entry, { default: true });
  } catch (err) {
    throw new PluginLoadError(source.entry, [`cannot import: ${(err as Error).message}`]);
  }

  // 2. Validate the definition's shape.
  const problems = validatePlugin(exported);
  if (problems.length) throw new PluginLoadError(source.entry, problems);

  const definition = exported as PluginDefinition;
  return {
    name: definition.name,
    version: definition.version,
    hash: hashPluginFiles(source.root),
    source,
    definition,
    loadedAt: Date.now(),
  };
}

/** Where the SDK's entry module is inside TaskMaster's package. */
export function sdkEntryIn(packageRoot: string): string {
  return join(packageRoot, 'src', 'sdk', 'index.ts');
}

let compilationCacheOff = false;

/**
 * Plugin modules are compiled from source text (jiti evaluates them through
 * `vm`). V8's compilation cache keeps every source text it compiled, and with
 * it every old version of a reloaded plugin: measured, 100 reloads of a
 * plugin with 100 kB of source kept 20 MB. Turned off, old versions are
 * collected like any other garbage; the cost is compiling again a source
 * text seen before, which a job engine rarely does.
 */
function releaseOldVersions(): void {
  if (compilationCacheOff) return;
  setFlagsFromString('--no-compilation-cache');
  compilationCacheOff = true;
}
