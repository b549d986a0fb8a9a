import { watch, type FSWatcher } from 'node:fs';
import type { Logger } from '../sdk/types.ts';

/**
 * Watches plugin folders and calls `onChange` once things have been quiet
 * for `debounceMs` after a change, so that a copy of many files, or an
 * editor's save-by-rename, leads to one reload. Returns a function that stops
 * watching.
 */
export function watchPluginFolders(
  folders: string[],
  debounceMs: number,
  onChange: () => void,
  log?: Logger,
): () => void {
  let timer: NodeJS.Timeout | undefined;
  const changed = (file: string | null) => {
    if (file && /(^|\/)(node_modules|\.[^/]*)(\/|$)/.test(file)) return;
    clearTimeout(timer);
    timer = setTimeout(onChange, debounceMs);
  };

  const watchers: FSWatcher[] = [];
  for (const folder of folders) {
    try {
      const watcher = watch(folder, { recursive: true, persistent: false }, (_event, file) => changed(file));
      watcher.on('error', (err) => log?.warn({ folder, err: err.message }, 'plugin folder watch failed'));
      watchers.push(watcher);
    } catch (err) {
      log?.warn({ folder, err: (err as Error).message }, 'cannot watch plugin folder; use reload instead');
    }
  }

  return () => {
    clearTimeout(timer);
    for (const watcher of watchers) watcher.close();
  };
}
