import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The folder of TaskMaster's own package: where the built-in plugins and the
 * SDK live. `TASKMASTER_ROOT` wins; otherwise it is found by walking up from
 * this file, which works from the sources and from the Nitro bundle alike.
 */
export function packageRoot(): string {
  if (process.env.TASKMASTER_ROOT) return process.env.TASKMASTER_ROOT;

  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && JSON.parse(readFileSync(manifest, 'utf8')).name === 'taskmaster') {
      return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) return process.cwd();
    dir = parent;
  }
}
