import { mkdirSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { hashPluginFiles } from '../plugins/hash.ts';
import { readVersionFiles, writeVersionFiles, type LoadedPlugin, type PluginSource, type Registry } from '../plugins/index.ts';
import type { Keys, RedisClient } from '../redis/index.ts';

/** How long a process waits for a neighbour restoring the same plugin folder. */
const RESTORE_WAIT_MS = 30_000;
/** A restore lock older than this was left by a process that died half way. */
const STALE_LOCK_MS = 30_000;
const POLL_MS = 50;

/** What was kept of a version's files, as its history record tells. */
export interface KeptFiles {
  bytes: number;
  /** False when the files were over `plugins.keepFilesMaxBytes` (or unreadable). */
  inRedis: boolean;
}

/**
 * Keeps a loaded version's files in Redis, as one hash of relative path to
 * content, unless they add up to more than `maxBytes`. Read from the copy kept
 * under the data folder when there is one (the source may have changed since),
 * else from the source if it still has this version's hash.
 */
export async function keepVersionFiles(
  redis: RedisClient,
  keys: Keys,
  plugin: LoadedPlugin,
  maxBytes: number,
): Promise<KeptFiles & { problem?: string }> {
  const root = plugin.archived?.root ?? plugin.source.root;
  if (!plugin.archived && hashPluginFiles(root) !== plugin.hash) {
    return { bytes: 0, inRedis: false, problem: 'the files changed since this version was loaded' };
  }
  const files = readVersionFiles(root);
  const bytes = [...files.values()].reduce((sum, content) => sum + content.length, 0);
  if (bytes > maxBytes) {
    return { bytes, inRedis: false, problem: `${bytes} bytes is over plugins.keepFilesMaxBytes (${maxBytes})` };
  }

  // One HSET: a reader sees all of a version's files or none.
  const fields = [...files].flatMap(([path, content]) => [path, content]);
  if (fields.length) await redis.hset(keys.pluginFiles(plugin.name, plugin.hash), ...fields);
  return { bytes, inRedis: true };
}

/**
 * A version's files from Redis, else from the copy under this process's data
 * folder; undefined when neither has them.
 */
export async function readKeptFiles(
  redis: RedisClient,
  keys: Keys,
  registry: Registry,
  name: string,
  hash: string,
): Promise<Map<string, Buffer> | undefined> {
  const stored = await redis.hgetallBuffer(keys.pluginFiles(name, hash));
  if (Object.keys(stored).length) return new Map(Object.entries(stored));

  const archive = registry.archive;
  if (archive?.versions(name).includes(hash)) return readVersionFiles(archive.pathOf(name, hash));
  return undefined;
}

/**
 * Puts a version's files in place of a plugin's files on this machine, ahead
 * of the reload that loads them. Every process of a rollback calls it: the
 * first of those sharing a folder writes (a lock folder beside the plugin
 * keeps the others out meanwhile); the rest find the folder at the version's
 * hash already and leave it. Returns whether this process wrote.
 */
export async function restoreVersionHere(
  redis: RedisClient,
  keys: Keys,
  registry: Registry,
  name: string,
  hash: string,
  fallback: PluginSource,
): Promise<boolean> {
  const source = registry.plugins().find((p) => p.name === name)?.source ?? fallback;
  const lock = join(dirname(source.root), `.${basename(source.root)}.restoring`);
  const deadline = Date.now() + RESTORE_WAIT_MS;

  for (;;) {
    if (hashOrNone(source.root) === hash) return false;
    if (takeLock(lock)) {
      try {
        if (hashOrNone(source.root) === hash) return false;
        const files = await readKeptFiles(redis, keys, registry, name, hash);
        if (!files) throw new Error(`no copy of ${name} version ${hash} is kept, in Redis or in this process's data folder`);
        writeVersionFiles(files, source);
        return true;
      } finally {
        rmSync(lock, { recursive: true, force: true });
      }
    }
    if (Date.now() > deadline) throw new Error(`another process held ${lock} for over ${RESTORE_WAIT_MS} ms`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

function hashOrNone(root: string): string | undefined {
  try {
    return hashPluginFiles(root);
  } catch {
    // The plugin's files are gone (removed since): the restore puts them back.
    return undefined;
  }
}

/** Creates the lock folder; false when another process holds it (a stale one is taken over). */
function takeLock(lock: string): boolean {
  try {
    mkdirSync(dirname(lock), { recursive: true });
    mkdirSync(lock);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  try {
    if (Date.now() - statSync(lock).mtimeMs > STALE_LOCK_MS) rmSync(lock, { recursive: true, force: true });
  } catch {
    // Released between the two calls: the next turn takes it.
  }
  return false;
}
