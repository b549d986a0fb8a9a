import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { untrustedReason, type RefusalReporter } from './trust.ts';

const ENTRY_NAMES = ['index.ts', 'index.mts', 'index.js', 'index.mjs'];
const FILE_PLUGIN = /\.(ts|mts|js|mjs)$/;

/** A plugin found on disk: its entry module and the root its hash covers. */
export interface PluginSource {
  entry: string;
  root: string;
}

/**
 * Finds plugins in a folder: each sub-folder with an `index.(ts|js|mjs)`, and
 * each `.ts`/`.js` file directly inside (test files excluded). A folder, a
 * plugin folder or an entry file that every user may write to is skipped and
 * reported to `refuse`: its code cannot be trusted.
 */
export function discoverPlugins(dir: string, refuse: RefusalReporter = () => {}): PluginSource[] {
  if (!existsSync(dir)) return [];
  const folderProblem = untrustedReason(dir);
  if (folderProblem) {
    refuse(dir, folderProblem);
    return [];
  }

  const sources: PluginSource[] = [];
  const trusted = (source: PluginSource) => {
    const problem = [source.root, source.entry].map((p) => [p, untrustedReason(p)] as const).find(([, r]) => r);
    if (problem) refuse(problem[0], problem[1]!);
    else sources.push(source);
  };
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith('.') || name === 'node_modules') continue;
    const path = join(dir, name);

    if (statSync(path).isDirectory()) {
      const entry = ENTRY_NAMES.map((n) => join(path, n)).find((p) => existsSync(p));
      if (entry) trusted({ entry, root: path });
    } else if (FILE_PLUGIN.test(name) && !/\.(test|spec)\./.test(name) && !name.endsWith('.d.ts')) {
      trusted({ entry: path, root: path });
    }
  }
  return sources;
}
