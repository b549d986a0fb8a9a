import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Registry, ReloadReport, VersionStats } from '../plugins/index.ts';
import { createRedis, type Keys, type RedisClient } from '../redis/index.ts';
import { WORKER_STALE_MS } from './heartbeat.ts';
import type { Logger } from './logger.ts';
import { keepVersionFiles, restoreVersionHere, type KeptFiles } from './plugin-version-files.ts';

/** How long the outcomes of one reload request stay readable. */
const OUTCOME_TTL_MS = 60 * 60 * 1000;
const POLL_MS = 50;
/** How often a process tells the others it still answers reloads. */
const PRESENCE_MS = 5000;

/** What one process answered to a reload. */
export interface ReloadOutcome {
  process: string;
  role: string;
  host: string;
  pid: number;
  at: number;
  /** What caused it: a request (its id), the folder watcher, or a start. */
  trigger: string;
  report?: ReloadReport;
  /** Set when the reload itself failed, beyond a single plugin's rejection. */
  error?: string;
  /** The versions serving and draining in that process afterwards. */
  plugins: VersionStats[];
}

/** One version of a plugin ever loaded anywhere, as the history keeps it. */
export interface VersionRecord {
  name: string;
  version: string;
  hash: string;
  types: string[];
  /** The source it was loaded from: where a rollback puts its files back. */
  entry: string;
  root: string;
  firstLoadedAt: number;
  /** Whether its files are kept in Redis for a rollback from anywhere (absent in older records). */
  files?: KeptFiles;
}

/** A rollback carried by a reload request: each process puts this version's files back first. */
export interface RestoreRequest {
  name: string;
  hash: string;
}

export interface FleetDeps {
  redis: RedisClient;
  redisUrl: string;
  keys: Keys;
  registry: Registry;
  processId: string;
  role: string;
  log: Logger;
  /** Versions whose files add up to more are not kept in Redis (`plugins.keepFilesMaxBytes`). */
  keepFilesMaxBytes: number;
}

/**
 * Reloads across every TaskMaster process sharing one Redis. A request is
 * published on a channel every process subscribes to; each reloads on its own
 * and writes its outcome into a hash per request, so the one who asked can
 * see which process runs which version — and which one rejected it.
 */
export class PluginFleet {
  private subscriber?: RedisClient;
  private listeners: ((outcome: ReloadOutcome) => void)[] = [];
  private presence?: NodeJS.Timeout;
  lastOutcome?: ReloadOutcome;

  constructor(private readonly deps: FleetDeps) {}

  /** Subscribes to reload requests. */
  async start(): Promise<void> {
    const { keys, log } = this.deps;
    const subscriber = createRedis(this.deps.redisUrl, 'blocking', 'taskmaster:plugin-reloads');
    subscriber.on('error', () => {
      // The subscriber reconnects and resubscribes by itself; a request missed meanwhile is
      // seen as a missing outcome by whoever asked.
    });
    subscriber.on('message', (_channel, message: string) => {
      let requestId: string;
      let restore: RestoreRequest | undefined;
      try {
        ({ requestId, restore } = JSON.parse(message));
      } catch {
        // Not a request of ours; nothing to answer.
        return;
      }
      this.answer(requestId, restore).catch((err) => log.error({ err, requestId }, 'cannot answer reload request'));
    });
    await subscriber.subscribe(keys.pluginReloads());
    this.subscriber = subscriber;

    // Whoever asks for a reload waits for every process that answers them, API ones included.
    const announce = () =>
      this.deps.redis.zadd(keys.pluginReloaders(), Date.now(), this.deps.processId).catch(() => {
        // Redis is away: the next announcement tries again.
      });
    await announce();
    this.presence = setInterval(announce, PRESENCE_MS);
    this.presence.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.presence);
    await this.deps.redis.zrem(this.deps.keys.pluginReloaders(), this.deps.processId).catch(() => {
      // Leaving while Redis is away: the entry goes stale and is no longer waited for.
    });
    this.subscriber?.disconnect();
    this.subscriber = undefined;
  }

  /** Calls `listener` after every reload of this process, whatever caused it. */
  onReloaded(listener: (outcome: ReloadOutcome) => void): void {
    this.listeners.push(listener);
  }

  /** Reloads this process only (the folder watcher's way) and records new versions. */
  async reloadHere(trigger: string): Promise<ReloadOutcome> {
    const { registry, processId, role, log } = this.deps;
    const outcome: ReloadOutcome = { process: processId, role, host: hostname(), pid: process.pid, at: 0, trigger, plugins: [] };
    try {
      outcome.report = await registry.reload();
      await this.remember(outcome.report).catch((err) => log.warn({ err }, 'cannot record plugin history'));
    } catch (err) {
      outcome.error = (err as Error).message;
      log.error({ err }, 'plugin reload failed');
    }
    outcome.at = Date.now();
    outcome.plugins = registry.versions();
    this.lastOutcome = outcome;
    for (const listener of this.listeners) listener(outcome);

    const { loaded = [], removed = [], rejected = [] } = outcome.report ?? {};
    if (loaded.length || removed.length || rejected.length) {
      log.info({ trigger, loaded: loaded.map((p) => `${p.name}@${p.version}`), removed: removed.map((p) => p.name), rejected: rejected.length }, 'plugins reloaded');
    }
    return outcome;
  }

  /**
   * Records in the history every version the registry serves now (each hash
   * once), with its files kept in Redis when they are small enough.
   */
  async remember(report?: ReloadReport): Promise<void> {
    const { redis, keys, registry, log } = this.deps;
    const names = new Set(report ? report.loaded.map((p) => p.name) : registry.plugins().map((p) => p.name));
    const writes: Promise<unknown>[] = [];
    for (const plugin of registry.plugins()) {
      if (!names.has(plugin.name)) continue;
      if (await redis.hexists(keys.pluginHistory(plugin.name), plugin.hash)) continue;
      const kept = await keepVersionFiles(redis, keys, plugin, this.deps.keepFilesMaxBytes);
      if (kept.problem) {
        log.warn({ plugin: plugin.name, version: plugin.version, hash: plugin.hash, reason: kept.problem }, 'plugin files not kept in Redis; rollback to this version works only where a local copy is kept');
      }
      const record: VersionRecord = {
        name: plugin.name,
        version: plugin.version,
        hash: plugin.hash,
        types: Object.keys(plugin.definition.jobs).sort(),
        entry: plugin.source.entry,
        root: plugin.source.root,
        firstLoadedAt: plugin.loadedAt,
        files: { bytes: kept.bytes, inRedis: kept.inRedis },
      };
      // Separate commands, not one pipeline: on a cluster the two keys live in different slots.
      writes.push(redis.hsetnx(keys.pluginHistory(plugin.name), plugin.hash, JSON.stringify(record)));
      writes.push(redis.sadd(keys.pluginNames(), plugin.name));
    }
    await Promise.all(writes);
  }

  private async answer(requestId: string, restore?: RestoreRequest): Promise<void> {
    const restoreError = restore ? await this.restore(restore) : undefined;
    const outcome = await this.reloadHere(`request:${requestId}`);
    if (restoreError) outcome.error = restoreError;
    const key = this.deps.keys.pluginReloadOutcomes(requestId);
    await this.deps.redis.multi().hset(key, this.deps.processId, JSON.stringify(outcome)).pexpire(key, OUTCOME_TTL_MS).exec();
  }

  /** Puts a version's files back on this machine; the error's message when it cannot. */
  private async restore({ name, hash }: RestoreRequest): Promise<string | undefined> {
    const { redis, keys, registry, log } = this.deps;
    try {
      const raw = await redis.hget(keys.pluginHistory(name), hash);
      if (!raw) throw new Error(`plugin ${name} has no version with hash ${hash} in its history`);
      const record = JSON.parse(raw) as VersionRecord;
      const wrote = await restoreVersionHere(redis, keys, registry, name, hash, { entry: record.entry, root: record.root });
      if (wrote) log.info({ plugin: name, version: record.version, hash }, 'plugin files restored for a rollback');
      return undefined;
    } catch (err) {
      log.error({ err, plugin: name, hash }, 'cannot restore plugin files for a rollback');
      return `cannot restore ${name} ${hash}: ${(err as Error).message}`;
    }
  }
}

/**
 * Asks every process to reload and waits until each live process that answers
 * reloads (workers and API alike, and those named in `alsoWaitFor`) answered,
 * or `timeoutMs` passed. `missing` names those that did not answer in time.
 * With `restore`, each process first puts that version's files back (a rollback).
 */
export async function requestFleetReload(
  redis: RedisClient,
  keys: Keys,
  options: { timeoutMs?: number; alsoWaitFor?: string[]; restore?: RestoreRequest } = {},
): Promise<{ requestId: string; outcomes: ReloadOutcome[]; missing: string[] }> {
  const requestId = randomBytes(8).toString('hex');
  const now = Date.now();
  await redis.zremrangebyscore(keys.pluginReloaders(), 0, now - 12 * WORKER_STALE_MS);
  const live = await redis.zrangebyscore(keys.pluginReloaders(), now - WORKER_STALE_MS, '+inf');
  const expected = new Set([...live, ...(options.alsoWaitFor ?? [])]);
  await redis.publish(keys.pluginReloads(), JSON.stringify({ requestId, at: Date.now(), restore: options.restore }));

  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  const key = keys.pluginReloadOutcomes(requestId);
  for (;;) {
    const raw = await redis.hgetall(key);
    const missing = [...expected].filter((id) => !(id in raw));
    if (!missing.length || Date.now() > deadline) {
      const outcomes = Object.values(raw).map((r) => JSON.parse(r) as ReloadOutcome);
      return { requestId, outcomes: outcomes.sort((a, b) => a.process.localeCompare(b.process)), missing };
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** Every version of every plugin ever loaded, oldest first per plugin. */
export async function pluginHistory(redis: RedisClient, keys: Keys): Promise<Record<string, VersionRecord[]>> {
  const names = (await redis.smembers(keys.pluginNames())).sort();
  const history: Record<string, VersionRecord[]> = {};
  for (const name of names) {
    const records = Object.values(await redis.hgetall(keys.pluginHistory(name))).map((r) => JSON.parse(r) as VersionRecord);
    history[name] = records.sort((a, b) => a.firstLoadedAt - b.firstLoadedAt);
  }
  return history;
}
