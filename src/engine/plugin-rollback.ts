import type { Registry } from '../plugins/index.ts';
import type { Keys, RedisClient } from '../redis/index.ts';
import { NotFoundError } from './errors.ts';
import type { VersionRecord } from './plugin-fleet.ts';

/**
 * Puts the files of an earlier version of a plugin back where the plugin is
 * loaded from, using the copy kept under this process's data folder. The
 * caller then reloads (fleet-wide) so that every process serves it again;
 * the rollback is itself a new load, with the old version's hash.
 */
export async function restorePluginVersion(redis: RedisClient, keys: Keys, registry: Registry, name: string, hash: string): Promise<VersionRecord> {
  const raw = await redis.hget(keys.pluginHistory(name), hash);
  if (!raw) throw new NotFoundError(`plugin ${name} has no version with hash ${hash} in its history`);
  const record = JSON.parse(raw) as VersionRecord;

  const archive = registry.archive;
  if (!archive || !archive.versions(name).includes(hash)) {
    throw new NotFoundError(`no copy of ${name} version ${hash} is kept in this process's data folder`);
  }
  archive.restore(name, hash, { entry: record.entry, root: record.root });
  return record;
}
