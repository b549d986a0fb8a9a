import type { Registry } from '../plugins/index.ts';
import type { Keys, RedisClient } from '../redis/index.ts';
import { NotFoundError } from './errors.ts';
import type { VersionRecord } from './plugin-fleet.ts';
import { readKeptFiles } from './plugin-version-files.ts';

/**
 * Checks that a plugin can be rolled back to the version with `hash`: it is
 * in the history and its files are kept (in Redis, or under this process's
 * data folder). The caller then asks every process to restore and reload
 * (`requestFleetReload` with `restore`); each puts the files back on its own
 * machine, so the rollback is itself a new load, with the old version's hash.
 */
export async function findRollbackVersion(redis: RedisClient, keys: Keys, registry: Registry, name: string, hash: string): Promise<VersionRecord> {
  const raw = await redis.hget(keys.pluginHistory(name), hash);
  if (!raw) throw new NotFoundError(`plugin ${name} has no version with hash ${hash} in its history`);
  const record = JSON.parse(raw) as VersionRecord;

  if (!(await readKeptFiles(redis, keys, registry, name, hash))) {
    const why = record.files && !record.files.inRedis ? ` (${record.files.bytes} bytes: over plugins.keepFilesMaxBytes, so not kept in Redis)` : '';
    throw new NotFoundError(`no copy of ${name} version ${hash} is kept in Redis${why} or in this process's data folder`);
  }
  return record;
}
