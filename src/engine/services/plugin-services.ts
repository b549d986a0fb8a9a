import type { Job } from 'bullmq';
import type { Config } from '../../config/index.ts';
import type { Keys, RedisClient } from '../../redis/index.ts';
import type { HandlerContext } from '../../sdk/types.ts';
import type { Housekeeping } from '../housekeeping.ts';
import type { Producer } from '../producer.ts';
import { Databases } from './databases.ts';
import { Flows } from './flows.ts';
import { cacheWriter, pluginKv } from './kv.ts';

/** The services part of a handler's context. */
export type ServiceContext = Pick<HandlerContext, 'db' | 'kv' | 'cache' | 'flow' | 'children' | 'housekeeping'>;

/**
 * What the SDK offers every handler besides HTTP: configured databases, a
 * key-value store per plugin, cache entries and flows. One per process.
 */
export class PluginServices {
  readonly databases: Databases;
  readonly flows: Flows;

  constructor(
    config: Config,
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    producer: Producer,
    /** Retention sweeps; parts of the engine that keep data register theirs here. */
    readonly housekeeping: Housekeeping,
  ) {
    this.databases = new Databases(config.databases);
    this.flows = new Flows(redis, keys, producer);
  }

  /** The services for one job of `plugin`. */
  forJob(plugin: string, job: Job): ServiceContext {
    return {
      db: (name) => this.databases.get(name),
      kv: pluginKv(this.redis, this.keys, plugin),
      cache: cacheWriter(this.redis, this.keys),
      flow: this.flows.client(`plugin:${plugin}`),
      children: () => this.flows.childResults(job),
      housekeeping: this.housekeeping,
    };
  }

  /** A plugin's key-value store, for readers outside a job (the API). */
  kvOf(plugin: string) {
    return pluginKv(this.redis, this.keys, plugin);
  }

  async close(): Promise<void> {
    await Promise.all([this.flows.close(), this.databases.close()]);
  }
}
