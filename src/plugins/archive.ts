import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import type { PluginSource } from './discover.ts';

/**
 * Copies of every plugin version's files, kept under the data folder as
 * `<dir>/<plugin>/<hash>/`. They serve two needs: an isolated handler runs
 * the exact version its job was started on even after the files changed, and
 * a rollback puts an earlier version's files back.
 */
export class PluginArchive {
  constructor(readonly dir: string) {}

  /** Where a version's copy lives (it may not exist). */
  pathOf(name: string, hash: string): string {
    return join(this.dir, name, hash);
  }

  /**
   * Copies a version's files, once per hash. Returns the copy's entry module.
   * A plugin's own `node_modules` is linked, not copied.
   */
  keep(name: string, hash: string, source: PluginSource): PluginSource {
    const target = this.pathOf(name, hash);
    const isFile = statSync(source.root).isFile();
    const entry = isFile ? join(target, basename(source.root)) : join(target, relative(source.root, source.entry));
    if (existsSync(entry)) return { entry, root: target };

    // Copied to a temporary folder first and renamed, so a crash half way never leaves a partial copy.
    const partial = `${target}.partial-${process.pid}-${Date.now()}`;
    rmSync(partial, { recursive: true, force: true });
    mkdirSync(partial, { recursive: true });
    if (isFile) {
      cpSync(source.root, join(partial, basename(source.root)));
    } else {
      cpSync(source.root, partial, { recursive: true, filter: (from) => copied(source.root, from) });
      const modules = join(source.root, 'node_modules');
      if (existsSync(modules)) symlinkSync(modules, join(partial, 'node_modules'), 'dir');
    }
    try {
      renameSync(partial, target);
    } catch (err) {
      // Another process sharing the data folder kept the same version first: its copy is as good.
      rmSync(partial, { recursive: true, force: true });
      if (!existsSync(entry)) throw err;
    }
    return { entry, root: target };
  }

  /** The hashes kept for a plugin. */
  versions(name: string): string[] {
    const dir = join(this.dir, name);
    return existsSync(dir) ? readdirSync(dir).filter((h) => /^[0-9a-f]{16}$/.test(h)) : [];
  }

  /**
   * Puts a kept version's files back in place of the plugin's current ones,
   * so the next reload loads it again everywhere that reads those files.
   */
  restore(name: string, hash: string, source: PluginSource): void {
    const kept = this.pathOf(name, hash);
    if (!existsSync(kept)) throw new Error(`no copy of ${name} version ${hash} is kept`);

    if (existsSync(source.root) && statSync(source.root).isFile()) {
      cpSync(join(kept, basename(source.root)), source.root);
      return;
    }
    mkdirSync(source.root, { recursive: true });
    for (const entry of readdirSync(source.root)) {
      if (entry === 'node_modules' || entry.startsWith('.')) continue;
      rmSync(join(source.root, entry), { recursive: true, force: true });
    }
    cpSync(kept, source.root, { recursive: true, filter: (from) => copied(kept, from) });
  }
}

/**
 * A version's files by path relative to its root (a single-file plugin: its
 * file name), `node_modules` and dot files left out — the files its hash covers.
 */
export function readVersionFiles(root: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  if (statSync(root).isFile()) {
    files.set(basename(root), readFileSync(root));
    return files;
  }
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) files.set(relative(root, path), readFileSync(path));
    }
  };
  walk(root);
  return files;
}

/**
 * Puts files read by `readVersionFiles` in place of a plugin's current ones:
 * a single-file plugin's file is overwritten; a folder loses every file but
 * its `node_modules` and dot files, then gets the version's.
 */
export function writeVersionFiles(files: Map<string, Buffer>, source: PluginSource): void {
  const single = existsSync(source.root) ? statSync(source.root).isFile() : source.root === source.entry;
  if (single) {
    const content = files.get(basename(source.root)) ?? (files.size === 1 ? [...files.values()][0] : undefined);
    if (!content) throw new Error(`the kept files hold no ${basename(source.root)}`);
    writeFileSync(source.root, content);
    return;
  }
  mkdirSync(source.root, { recursive: true });
  for (const entry of readdirSync(source.root)) {
    if (entry === 'node_modules' || entry.startsWith('.')) continue;
    rmSync(join(source.root, entry), { recursive: true, force: true });
  }
  for (const [path, content] of files) {
    const target = join(source.root, path);
    if (relative(source.root, target).startsWith('..')) throw new Error(`kept file ${path} lies outside the plugin`);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, content);
  }
}

function copied(root: string, path: string): boolean {
  const rel = relative(root, path);
  if (!rel) return true;
  return !rel.split('/').some((part) => part === 'node_modules' || part.startsWith('.'));
}
