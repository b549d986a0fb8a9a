import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const ENTRY_NAMES = ['index.ts', 'index.mts', 'index.js', 'index.mjs'];
const FILE_PLUGIN = /\.(ts|mts|js|mjs)$/;

/** A plugin found on disk: its entry module and the root its hash covers. */
export interface PluginSource {
  entry: string;
  root: string;
}

/**
 * Finds plugins in a folder: each sub-folder with an `index.(ts|js|mjs)`, and
 * each `.ts`/`.js` file directly inside (test files excluded).
 */
export function discoverPlugins(dir: string): PluginSource[] {
  if (!existsSync(dir)) return [];

  const sources: PluginSource[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith('.') || name === 'node_modules') continue;
    const path = join(dir, name);

    if (statSync(path).isDirectory()) {
      const entry = ENTRY_NAMES.map((n) => join(path, n)).find((p) => existsSync(p));
      if (entry) sources.push({ entry, root: path });
    } else if (FILE_PLUGIN.test(name) && !/\.(test|spec)\./.test(name) && !name.endsWith('.d.ts')) {
      sources.push({ entry: path, root: path });
    }
  }
  return sources;
}
