import type { Redis } from 'ioredis';
import { dataNodes, type RedisClient } from './connection.ts';

export interface ServerCheck {
  /** Refuse to start: the server may drop jobs. */
  fatal?: string;
  warnings: string[];
}

/**
 * Checks a Redis server (or every master of a cluster) TaskMaster did not start itself: anything but
 * `noeviction` can evict jobs, and a server that persists nothing loses every
 * job when it restarts.
 */
export async function checkServer(redis: RedisClient, allowEviction: boolean): Promise<ServerCheck> {
  const checks = await Promise.all(dataNodes(redis).map((node) => checkNode(node, allowEviction)));
  const fatal = checks.find((c) => c.fatal)?.fatal;
  return { fatal, warnings: [...new Set(checks.flatMap((c) => c.warnings))] };
}

/** One server: each master of a cluster is configured on its own. */
async function checkNode(redis: Redis, allowEviction: boolean): Promise<ServerCheck> {
  const warnings: string[] = [];
  const policy = await configGet(redis, 'maxmemory-policy');
  const appendonly = await configGet(redis, 'appendonly');
  const save = await configGet(redis, 'save');

  let fatal: string | undefined;
  if (policy === undefined) {
    warnings.push('cannot read maxmemory-policy (CONFIG is disabled?); make sure it is noeviction');
  } else if (policy !== 'noeviction') {
    const message = `Redis maxmemory-policy is ${policy}: jobs can be evicted. Set it to noeviction`;
    if (allowEviction) warnings.push(message);
    else fatal = `${message}, or set redis.allowEviction to start anyway.`;
  }

  if (appendonly === 'no' && save === '') {
    warnings.push('Redis persists nothing (appendonly no, no save points): a restart loses every job');
  }

  return { fatal, warnings };
}

async function configGet(redis: Redis, name: string): Promise<string | undefined> {
  try {
    const reply = (await redis.config('GET', name)) as string[];
    return reply[1];
  } catch {
    // Managed services often rename or forbid CONFIG; the caller warns instead.
    return undefined;
  }
}
